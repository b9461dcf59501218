import { mediaScheme, type MediaKind } from '../../../main/common/library';

/**
 * The URL of a thumbnail or image of the library: jigclu-media://thumbs/<id> in the desktop
 * app (a protocol of our own), /thumbs/<id> on browser mode's origin (the token travels in its
 * cookie). `version` (the start of the content hash) lets the view cache what never changes.
 */
export function mediaUrl(kind: MediaKind, id: number, version?: string): string {
  const query = version ? `?v=${encodeURIComponent(version)}` : '';
  return window.jigclu ? `${mediaScheme}://${kind}/${id}${query}` : `/${kind}/${id}${query}`;
}
