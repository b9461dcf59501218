/**
 * The web pages the app itself links to. The desktop app opens a link in the system browser
 * only when it is one of these, exactly (electron/security.ts): a page that somehow got script
 * into the renderer cannot use the app to open an arbitrary URL or a local file.
 */
export const externalLinks = {
  /** The method's paper (Chen, Liu and Jia, CVPR 2021). */
  paper: 'https://openaccess.thecvf.com/content/CVPR2021/html/Chen_Jigsaw_Clustering_for_Unsupervised_Visual_Representation_Learning_CVPR_2021_paper.html',
  /** The reference implementation the engine follows. */
  referenceCode: 'https://github.com/dvlab-research/JigsawClustering',
  /** What the GPU engine needs. */
  tfjsNodeGpu: 'https://www.npmjs.com/package/@tensorflow/tfjs-node-gpu',
} as const;

/** True when `url` is exactly one of the app's own links. */
export function isExternalLinkAllowed(url: string): boolean {
  return (Object.values(externalLinks) as string[]).includes(url);
}
