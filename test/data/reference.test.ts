import { describe, expect, it } from 'vitest';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  cropRegion,
  gaussianBlur,
  grayscale,
  randomResizedCropBox,
  resizeBilinear,
  toFloatImage,
  type FloatImage,
} from '../../main/data/augment';
import { evalBatch, patchRects } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';

/**
 * Our ops against the reference's own libraries. The expected values below were produced once
 * with Pillow 9.4 and torchvision 0.14 / torch 1.13 (the versions the reference's PyTorch code
 * runs with), by this script:
 *
 *   def test_image(w, h):  # uint8 HWC, value (x*37 + y*91 + c*53 + x*y*13) % 256
 *   im = Image.fromarray(test_image(9, 7))
 *   im.resize((4, 3), Image.BILINEAR); im.resize((13, 10), Image.BILINEAR)
 *   im.crop((2, 1, 8, 6)).resize((5, 5), Image.BILINEAR)               # RandomResizedCrop's PIL path
 *   im.filter(ImageFilter.GaussianBlur(radius=0.8)) / (radius=2.0)      # the reference's GaussianBlur
 *   Image.fromarray(test_image(24, 20)).filter(ImageFilter.GaussianBlur(radius=1.3))
 *   im.convert('L')                                                     # RandomGrayscale
 *   T.CenterCrop(5)(T.Resize(5)(im)), same for a 7 x 12 image            # evaluation resize
 *   t = to_tensor(test_image(6, 5)); F.adjust_brightness(t, 1.3), F.adjust_contrast(t, 0.6 / 1.35),
 *     F.adjust_saturation(t, 1.5 / 0.7), F.adjust_hue(t, 0.08 / -0.23 / 0.5)   # ColorJitter's ops
 *   T.RandomResizedCrop.get_params(Image.new('RGB', (100, 10)), (0.9, 1.0), (3/4, 4/3)) and 10 x 100
 *   statistics of 20000 get_params(Image.new('RGB', (51, 51)), (0.2, 1.0), (3/4, 4/3)) boxes
 *   the share of 100000 get_params(Image.new('RGB', (100, 30)), (0.3, 1.0), (3/4, 4/3)) that fall back
 *   JigCluTransform's four boxes (h, w = x.size; x.crop(...)) for 75x57, 64x64, 101x99 images
 *
 * Pillow works in 8 bits and rounds after every pass, so its images are compared within 1 or 2
 * levels; torchvision's float ops within 1e-5 (1e-4 where torchvision's tensor grayscale uses
 * 0.2989 for red where PIL and we use 0.299).
 */
const reference = {
  resize_4x3: '6b88938a8c958b8d89837c6e7a957c947e808974947c778f6da2968e74a3897f8696788b',
  resize_13x10:
    '00356a14497e2e6398477cb16196cb7aafe494c9feaee366c79a31cd164b362f6414497e285d9232679c4a7fb4699eb2' +
    '87bc6fa68483996ca1568bc075aa8f939c8aa9739d77915b7b6f59933b7072a79c8fa1b9a5a9b19dcd51bd7c67a75778' +
    '477c716c75967885ba76abd19acf71bf9c4cdc5146b1e628d3854ac64072496b94628fbf88b49fabe022d6624da44378' +
    '396ea26499c48fbf7db1d91b4b805b7176828e7f8d81af4bac7b70aa6c85699e799a91aba9679c9732675563986095a1' +
    '86bb9731669b5c91967fb47e79ae43aa786eaf558a734e836d87bc897eb3b4487d79427760659a5c91c671a6ce9acf7b' +
    '9acf493065875b88bd9577acca0c41604b774e83b085a7dcc23d72903c713e669bb0e55a7eb36d5b909473a8d8b371a6' +
    'bc588d7b70a594b5657aaf6e4979ae8c90c5b46ea3c63b707db25a6ba0945a8fc4558abf9775aab6669b9f61969aac7f' +
    '8b9472774176718bc0a19695dc844622578c6095ca74a9de13487d4f84b99e85baee23588c73a88d6095c91247686196' +
    '7cb170baef24',
  crop_2_1_8_6_resize_5x5:
    'cac834a7386d3c71a675aadfaee34f4176ab8abf98d2873c754e836297ccb9b723b5457a679cd1be4e834c4a7f31669b' +
    '9770a57d32676297ccc83469a9a7dcc2528792c77c6297717bb0e5',
  'blur_0.8':
    '265987427199648ca18095b788abb49fa7739b67685a5b69525678638c977f93a08f9c80997e897b868f838b92898c96' +
    '8b926fa26e5d899e689a817f868a7f92878b918f769973877d73957d938c98a4665d857f7c908089936d9f75808a768a' +
    '8b799f8c5f8f736c91738f9c74a6907cab7d738e8a937296916085797b9182759f8d60907b699281b5776e9f96758aad' +
    'a0709e9a758d89957f7b7b92907da1b0717a5489926196b9567aac8a78aaab658d93788d92587c84838aacaf56',
  'blur_2.0':
    '5e7f8a66828d7287917c899183888e868488837e817e777b7b73786584886c868b76878e7f888e85868d868289857e83' +
    '80797f7e767b6d8a86738a897c888b82868c87838c88808a877d86847a82837980728f87778d897e888b84848c887f8d' +
    '897c8b897b88887b85887c8372928a778e8c7e878e84818f897c8e8b7a8c8c7a898c7c858d7e836f918f738d917c8693' +
    '837f928979908c788d8f7988907c8391807f6b9094708b96798497817d968978928d778d917886937d8195827c',
  'blur_1.3_24x20':
    '4e768f5d7e94718a9981929c8a93958c8c89857f7c7872786a7182687c8c7493888a9f7297905c89745f6c65775d718d' +
    '6a878e80937b8b916689845f7b776a6f6e766b6d7f6f6d836382896e868c7d8a8f868d928b8b908b878a867f827e797d' +
    '76777f707e86758d86869875948c638b756474697968748a738488818a7885886a7f8267777a6d73737474707a796d7d' +
    '758e827d8d83878b848c87878d818b8a7e8c867c8a847d85817e817a8082788783828e779187698f776a81707b797885' +
    '807e818380777d8171758270728170757b717c7475836e777897807f9381888a838d81868e7a8b89778e867790867b8d' +
    '8680878083837c858182887790826e947a708d767b877b80887d7d847d797982776f88756d89737384737d7a7887717c' +
    '769d857b968984898c8d7d8d8f778f8b759088759288799189808c84868680888083867b908078997b7a967b7d917f7f' +
    '8e807e87827e7d887c738e796e8f78718a7d7b7f84867589779b907b93958485998f7a979376939076908e77918e7a90' +
    '8e818c8a8785848981868583937f879d7a899d7b869781839285838d8983868c807d907e768f82758a8b7f7f94897699' +
    '808b9883869e8a7da192779c96759494778d93788c927c8b9280878f83838b83848c7f8c947a959c77979c7991987f8a' +
    '948687928b858e8d83898c8484888b838296897a9f9074a38a759a8d749d8f749f90749890758e8f77869079838f7c83' +
    '8f7d81907b8190788590758f90749890759a907894917d8c918486918a83908b819086848f7d8c9076989374a19572a6' +
    '8f65959067978c6c9685728f81758482767c85787c857b7d857b7d88777d8c72828b708a8373917c78927e7c8c857e84' +
    '8b80808b857d8c867c8e807c937684966e90936f9c8f71a48c648f8a658e836b8d79728674767d7775797a757b7a7b7e' +
    '797d7d7e7a7b83757c8173817578866c7e8471827f7e817c867e7a877f798881768c7d74917477936e838b6f9482719f' +
    '866d88826e867873867078836e7a7e72787d757781757c85747f84797d7e7d7b7a7a7b7c6d7f7f66837d6e867a7d837c' +
    '857b7e86787c887a768c7b718f78708d747882738877749282777d7b7a7e727e816d80836c8082717f82747d88747e8d' +
    '747c8b7a79827e7c7d7880806a8183687f7e74827d808282837b8683748387747a8c79728d7b708779747d787c737880' +
    '827d737a81787185806d84846e8284728483758388777e8c7976897f7582817c8377818b687c8c6b73827b757d867c82' +
    '837e8a7e7789817480877877897c75847b767c7975747971887d6d7e817574847f718286737f857882827b83847e7e86' +
    '817784847a847f838d7084976176966865857e64778d7178897e82807e867e7b83817b7e857b7d827a7b7d7973777b69' +
    '8b7e6b80817275827d747e87797b8a807f8582838285828386808681858f758a9a6284a254709a5b5c867455728a626c' +
    '8f757389807b848182837d84857b84847c7f7f7e7279836781846977856f6f847b717f8a787c907f7f8b818586808688' +
    '7d869073879c6385a3507ba443699a4757885b4e7674556c85676c8b76738c7b7e897a85877c8685837e808c707b9266' +
    '6e8a6d69897266867e68838b6e819175838c76858875838b717e9267799a57739d456b9b37619436588b42528156557a' +
    '6d60777f6c79897281897586867e84828c7a7d9a6d7aa0656a8b7568877c65848664848d65878d6b8987708584737c83' +
    '757184706785615f884b5a8b38598d305a8f365d9046638f5c6c8b717288807588857689827f837c8f76789e6b76a666' +
    '7d8b7a7b8282737b8a69808c638888698e83748a808180798c726f8e636980556e624f79445386365d923a6b9d4978a1' +
    '5d849a7289908384888a7c85847b7f78877570976e6d9f6b958d78917e8184748a717a8b6687876b93857c9282908a75' +
    'a07d62a869579b545d77496e514f813d5f944273a55287ab6797a07c9d8d8e917f947f7d8a757a767d74698d72659672',
  gray:
    '2b50759abfc7562e5386b8cd694e80b2c763c46d5f9ec0695b9abc3c88b76d6cb851509c97d349a24854ad535fd558be' +
    '718ad356bc6f4dc033a6668c4c72c8',
  eval_5:
    '2e6398689399878db88fb08791686da3a37f948d839288818f757b7398a85c8086899c67a16c7f8780a68a50858dc27b' +
    '6c959aa0669b7c82777d82ab6297975782b7a16ea3998288855b87',
  eval_tall_5:
    '5c878d7da565a26e837b749998659a88bd776398a7a66ca18e847a698b917089ab6f7eb39f72a7ad6e96a35c88a6568b' +
    'b164999175a573826774797f72659a974e8354758f6c7b54914a76',
  'brightness_1.3': [
    0, 0.270196, 0.540392, 0.188627, 0.458824, 0.72902, 0.377255, 0.647451, 0.917647, 0.565882, 0.836078, 1,
    0.75451, 1, 1, 0.943137, 1, 0.178431, 0.463922, 0.734118, 1, 0.718824, 0.98902, 1, 0.973725, 1, 0.20902,
    1, 0.193725, 0.463922, 0.178431, 0.448627, 0.718824, 0.433333, 0.703529, 0.973725, 0.927843, 1, 0.163137,
    1, 0.214118, 0.484314, 0.265098, 0.535294, 0.80549, 0.586275, 0.856471, 1, 0.907451, 1, 0.142745, 1,
    0.193725, 0.463922, 0.086667, 0.356863, 0.627059, 0.474118, 0.744314, 1, 0.861569, 1, 0.096863, 1,
    0.214118, 0.484314, 0.331373, 0.601569, 0.871765, 0.718824, 0.98902, 1, 0.550588, 0.820784, 1, 1, 1,
    0.239608, 0.152941, 0.423137, 0.693333, 0.606667, 0.876863, 1, 1, 0.02549, 0.295686, 0.20902, 0.479216,
    0.749412,
  ],
  'contrast_0.6': [
    0.209573, 0.334279, 0.458985, 0.296632, 0.421338, 0.546044, 0.383691, 0.508397, 0.633103, 0.47075,
    0.595456, 0.720161, 0.557809, 0.682514, 0.80722, 0.644867, 0.769573, 0.291926, 0.423691, 0.548397,
    0.673103, 0.541338, 0.666044, 0.79075, 0.658985, 0.783691, 0.306044, 0.776632, 0.298985, 0.423691,
    0.291926, 0.416632, 0.541338, 0.409573, 0.534279, 0.658985, 0.637809, 0.762514, 0.284867, 0.786044,
    0.308397, 0.433103, 0.331926, 0.456632, 0.581338, 0.480161, 0.604867, 0.729573, 0.628397, 0.753103,
    0.275456, 0.776632, 0.298985, 0.423691, 0.249573, 0.374279, 0.498985, 0.428397, 0.553103, 0.677809,
    0.60722, 0.731926, 0.254279, 0.786044, 0.308397, 0.433103, 0.362514, 0.48722, 0.611926, 0.541338,
    0.666044, 0.79075, 0.463691, 0.588397, 0.713103, 0.673103, 0.797809, 0.320161, 0.280161, 0.404867,
    0.529573, 0.489573, 0.614279, 0.738985, 0.698985, 0.221338, 0.346044, 0.306044, 0.43075, 0.555456,
  ],
  'contrast_1.35': [
    0, 0.097212, 0.3778, 0.012506, 0.293094, 0.573682, 0.208388, 0.488976, 0.769565, 0.404271, 0.684859,
    0.965447, 0.600153, 0.880741, 1, 0.796035, 1, 0.001918, 0.298388, 0.578976, 0.859565, 0.563094, 0.843682,
    1, 0.8278, 1, 0.033682, 1, 0.0178, 0.298388, 0.001918, 0.282506, 0.563094, 0.266623, 0.547212, 0.8278,
    0.780153, 1, 0, 1, 0.038976, 0.319565, 0.091918, 0.372506, 0.653094, 0.425447, 0.706035, 0.986624,
    0.758976, 1, 0, 1, 0.0178, 0.298388, 0, 0.187212, 0.4678, 0.308976, 0.589565, 0.870153, 0.711329,
    0.991918, 0, 1, 0.038976, 0.319565, 0.160741, 0.441329, 0.721918, 0.563094, 0.843682, 1, 0.388388,
    0.668976, 0.949565, 0.859565, 1, 0.065447, 0, 0.256035, 0.536623, 0.446623, 0.727212, 1, 0.9178, 0,
    0.123682, 0.033682, 0.31427, 0.594859,
  ],
  'saturation_1.5': [
    0, 0.227069, 0.538833, 0.060409, 0.372174, 0.683939, 0.205515, 0.517279, 0.829044, 0.35062, 0.662385,
    0.974149, 0.495725, 0.80749, 1, 0.698054, 1, 0, 0.272184, 0.583949, 0.895714, 0.468273, 0.780037, 1,
    0.721584, 1, 0, 1, 0.018206, 0.329971, 0.052566, 0.36433, 0.676095, 0.248654, 0.560419, 0.872183,
    0.686289, 0.998053, 0, 1, 0.033893, 0.345658, 0.119236, 0.431, 0.742765, 0.366307, 0.678072, 0.989836,
    0.670602, 0.982366, 0, 1, 0.018206, 0.329971, 0, 0.293739, 0.605503, 0.280028, 0.591793, 0.903557,
    0.635306, 0.94707, 0, 1, 0.033893, 0.345658, 0.170219, 0.481983, 0.793748, 0.468273, 0.780037, 1,
    0.338855, 0.650619, 0.962384, 0.745115, 1, 0, 0.032957, 0.344722, 0.656486, 0.381994, 0.693759, 1, 1, 0,
    0.200553, 0.076096, 0.387861, 0.699626,
  ],
  'saturation_0.7': [
    0.050818, 0.196308, 0.341798, 0.195911, 0.341402, 0.486892, 0.341005, 0.486495, 0.631985, 0.486099,
    0.631589, 0.777079, 0.631192, 0.776683, 0.922173, 0.741952, 0.887442, 0.330187, 0.40767, 0.55316, 0.69865,
    0.603742, 0.749232, 0.894723, 0.765481, 0.910971, 0.353716, 0.784763, 0.227508, 0.372998, 0.188068,
    0.333559, 0.479049, 0.384141, 0.529631, 0.675121, 0.730188, 0.875678, 0.318423, 0.800448, 0.243194,
    0.388684, 0.254733, 0.400223, 0.545714, 0.501785, 0.647275, 0.792765, 0.714502, 0.859992, 0.302737,
    0.784763, 0.227508, 0.372998, 0.117482, 0.262973, 0.408463, 0.415513, 0.561003, 0.706493, 0.679209,
    0.824699, 0.267444, 0.800448, 0.243194, 0.388684, 0.305712, 0.451202, 0.596692, 0.603742, 0.749232,
    0.894723, 0.474334, 0.619825, 0.765315, 0.789009, 0.9345, 0.377245, 0.168461, 0.313951, 0.459442, 0.51747,
    0.662961, 0.808451, 0.655355, 0.0981, 0.24359, 0.211597, 0.357087, 0.502578,
  ],
  'hue_0.08': [
    0, 0.008314, 0.415686, 0.145098, 0.153412, 0.560784, 0.290196, 0.29851, 0.705882, 0.435294, 0.443608,
    0.85098, 0.580392, 0.588706, 0.996078, 0.343373, 0.933333, 0.137255, 0.356863, 0.365177, 0.772549,
    0.552941, 0.561255, 0.968627, 0.366902, 0.956863, 0.160784, 0.945098, 0.323294, 0.14902, 0.137255,
    0.145569, 0.552941, 0.333333, 0.341647, 0.74902, 0.331608, 0.921569, 0.12549, 0.960784, 0.33898, 0.164706,
    0.203922, 0.212235, 0.619608, 0.45098, 0.459294, 0.866667, 0.315922, 0.905882, 0.109804, 0.945098,
    0.323294, 0.14902, 0.066667, 0.074981, 0.482353, 0.364706, 0.37302, 0.780392, 0.280627, 0.870588, 0.07451,
    0.960784, 0.33898, 0.164706, 0.254902, 0.263216, 0.670588, 0.552941, 0.561255, 0.968627, 0.423529,
    0.431843, 0.839216, 0.390431, 0.980392, 0.184314, 0.117647, 0.125961, 0.533333, 0.466667, 0.474981,
    0.882353, 0.815686, 0.193882, 0.019608, 0.160784, 0.169098, 0.576471,
  ],
  'hue_-0.23': [
    0, 0.415686, 0.049882, 0.145098, 0.560784, 0.19498, 0.290196, 0.705882, 0.340078, 0.435294, 0.85098,
    0.485176, 0.580392, 0.996078, 0.630274, 0.933333, 0.137255, 0.231922, 0.356863, 0.772549, 0.406745,
    0.552941, 0.968627, 0.602823, 0.956863, 0.160784, 0.255451, 0.434745, 0.14902, 0.945098, 0.137255,
    0.552941, 0.187137, 0.333333, 0.74902, 0.383215, 0.921569, 0.12549, 0.220157, 0.450431, 0.164706,
    0.960784, 0.203922, 0.619608, 0.253804, 0.45098, 0.866667, 0.500863, 0.905882, 0.109804, 0.204471,
    0.434745, 0.14902, 0.945098, 0.066667, 0.482353, 0.116549, 0.364706, 0.780392, 0.414588, 0.870588,
    0.07451, 0.169177, 0.450431, 0.164706, 0.960784, 0.254902, 0.670588, 0.304784, 0.552941, 0.968627,
    0.602823, 0.423529, 0.839216, 0.473412, 0.980392, 0.184314, 0.278981, 0.117647, 0.533333, 0.167529,
    0.466667, 0.882353, 0.516549, 0.305333, 0.019608, 0.815686, 0.160784, 0.576471, 0.210666,
  ],
  'hue_0.5': [
    0.415686, 0.207843, 0, 0.560784, 0.352941, 0.145098, 0.705882, 0.498039, 0.290196, 0.85098, 0.643137,
    0.435294, 0.996078, 0.788235, 0.580392, 0.345098, 0.137255, 0.933333, 0.772549, 0.564706, 0.356863,
    0.968627, 0.760784, 0.552941, 0.368627, 0.160784, 0.956863, 0.14902, 0.945098, 0.737255, 0.552941,
    0.345098, 0.137255, 0.74902, 0.541176, 0.333333, 0.333333, 0.12549, 0.921569, 0.164706, 0.960784,
    0.752941, 0.619608, 0.411765, 0.203922, 0.866667, 0.658823, 0.45098, 0.317647, 0.109804, 0.905882,
    0.14902, 0.945098, 0.737255, 0.482353, 0.27451, 0.066667, 0.780392, 0.572549, 0.364706, 0.282353, 0.07451,
    0.870588, 0.164706, 0.960784, 0.752941, 0.670588, 0.462745, 0.254902, 0.968627, 0.760784, 0.552941,
    0.839216, 0.631372, 0.423529, 0.392157, 0.184314, 0.980392, 0.533333, 0.32549, 0.117647, 0.882353,
    0.67451, 0.466667, 0.019608, 0.815686, 0.607843, 0.576471, 0.368627, 0.160784,
  ],
  rrc_fallback_wide: [0, 43, 10, 13],
  rrc_fallback_tall: [43, 0, 13, 10],
  jigclu_boxes: {
    '75x57': [
      [0, 0, 60, 45, 60, 45],
      [0, 11, 60, 57, 60, 46],
      [14, 0, 75, 45, 61, 45],
      [14, 11, 75, 57, 61, 46],
    ],
    '64x64': [
      [0, 0, 51, 51, 51, 51],
      [0, 13, 51, 64, 51, 51],
      [13, 0, 64, 51, 51, 51],
      [13, 13, 64, 64, 51, 51],
    ],
    '101x99': [
      [0, 0, 80, 79, 80, 79],
      [0, 19, 80, 99, 80, 80],
      [20, 0, 101, 79, 81, 79],
      [20, 19, 101, 99, 81, 80],
    ],
  },
};

function testImage(width: number, height: number): FloatImage {
  const bytes = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++)
        bytes[(y * width + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + x * y * 13) % 256;
    }
  }
  return toFloatImage(bytes, width, height);
}

function bytesOf(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Largest difference in 8-bit levels between our float image and Pillow's bytes. */
function levelsOff(ours: Float32Array, pillow: Uint8Array): number {
  expect(ours.length).toBe(pillow.length);
  let max = 0;
  for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i]! * 255 - pillow[i]!));
  return max;
}

function maxAbsDiff(ours: Float32Array, expected: number[]): number {
  expect(ours.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i]! - expected[i]!));
  return max;
}

describe('Pillow: resize, crop + resize, GaussianBlur, grayscale', () => {
  const image = testImage(9, 7);

  it('BILINEAR resize (antialiased down, interpolating up) within one level', () => {
    expect(levelsOff(resizeBilinear(image, 4, 3).data, bytesOf(reference.resize_4x3))).toBeLessThanOrEqual(1);
    expect(
      levelsOff(resizeBilinear(image, 13, 10).data, bytesOf(reference.resize_13x10)),
    ).toBeLessThanOrEqual(1);
    const crop = cropRegion(image, 2, 1, 6, 5);
    expect(
      levelsOff(resizeBilinear(crop, 5, 5).data, bytesOf(reference.crop_2_1_8_6_resize_5x5)),
    ).toBeLessThanOrEqual(1);
  });

  it('ImageFilter.GaussianBlur(radius) within two levels (Pillow rounds after each of its 6 passes)', () => {
    expect(levelsOff(gaussianBlur(image, 0.8).data, bytesOf(reference['blur_0.8']))).toBeLessThanOrEqual(2);
    expect(levelsOff(gaussianBlur(image, 2.0).data, bytesOf(reference['blur_2.0']))).toBeLessThanOrEqual(2);
    expect(
      levelsOff(gaussianBlur(testImage(24, 20), 1.3).data, bytesOf(reference['blur_1.3_24x20'])),
    ).toBeLessThanOrEqual(2);
  });

  it("convert('L') within one level on every channel", () => {
    const gray = grayscale(image).data;
    const pillow = bytesOf(reference.gray);
    const expanded = new Uint8Array(pillow.length * 3);
    pillow.forEach((v, i) => expanded.set([v, v, v], i * 3));
    expect(levelsOff(gray, expanded)).toBeLessThanOrEqual(1);
  });

  it('evaluation resize = T.Resize(size) + T.CenterCrop(size) within one level', () => {
    const unnormalise = (values: Float32Array): Float32Array => {
      const mean = [0.485, 0.456, 0.406];
      const std = [0.229, 0.224, 0.225];
      return values.map((v, i) => v * std[i % 3]! + mean[i % 3]!);
    };
    expect(levelsOff(unnormalise(evalBatch([image], 5)), bytesOf(reference.eval_5))).toBeLessThanOrEqual(1);
    expect(
      levelsOff(unnormalise(evalBatch([testImage(7, 12)], 5)), bytesOf(reference.eval_tall_5)),
    ).toBeLessThanOrEqual(1);
  });
});

describe('torchvision: ColorJitter ops and RandomResizedCrop', () => {
  const image = testImage(6, 5);

  it('adjust_brightness and adjust_hue match to 1e-5', () => {
    expect(maxAbsDiff(adjustBrightness(image, 1.3).data, reference['brightness_1.3'])).toBeLessThan(1e-5);
    expect(maxAbsDiff(adjustHue(image, 0.08).data, reference['hue_0.08'])).toBeLessThan(1e-5);
    expect(maxAbsDiff(adjustHue(image, -0.23).data, reference['hue_-0.23'])).toBeLessThan(1e-5);
    expect(maxAbsDiff(adjustHue(image, 0.5).data, reference['hue_0.5'])).toBeLessThan(1e-5);
  });

  it('adjust_contrast and adjust_saturation match to 1e-4 (luma 0.299 vs 0.2989)', () => {
    expect(maxAbsDiff(adjustContrast(image, 0.6).data, reference['contrast_0.6'])).toBeLessThan(1e-4);
    expect(maxAbsDiff(adjustContrast(image, 1.35).data, reference['contrast_1.35'])).toBeLessThan(1e-4);
    expect(maxAbsDiff(adjustSaturation(image, 1.5).data, reference['saturation_1.5'])).toBeLessThan(1e-4);
    expect(maxAbsDiff(adjustSaturation(image, 0.7).data, reference['saturation_0.7'])).toBeLessThan(1e-4);
  });

  it('RandomResizedCrop.get_params has the same distribution of boxes on a 51 x 51 patch', () => {
    // torchvision 0.14, 20000 draws of get_params(51 x 51, (0.2, 1), (3/4, 4/3)):
    // area fraction mean 0.5453, sd 0.2036; w / h mean 1.0131 (standard errors about 0.0015).
    const rng = new Rng(3);
    const areas: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const box = randomResizedCropBox(51, 51, rng, [0.2, 1], [3 / 4, 4 / 3]);
      areas.push((box.w * box.h) / (51 * 51));
      ratios.push(box.w / box.h);
    }
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(mean(areas.map((a) => a * a)) - mean(areas) ** 2);
    expect(Math.abs(mean(areas) - 0.5453)).toBeLessThan(0.01);
    expect(Math.abs(sd - 0.2036)).toBeLessThan(0.01);
    expect(Math.abs(mean(ratios) - 1.0131)).toBeLessThan(0.01);
  });

  it('RandomResizedCrop.get_params gives up after 10 attempts as often as torchvision', () => {
    // torchvision 0.14, 100000 draws of get_params(100 x 30, (0.3, 1), (3/4, 4/3)): 64.74% end in
    // the fallback (0, 30, 30, 40); 9 or 11 attempts would give about 67.6% or 61.9%.
    const rng = new Rng(5);
    let fallbacks = 0;
    const draws = 20000;
    for (let i = 0; i < draws; i++) {
      const box = randomResizedCropBox(100, 30, rng, [0.3, 1], [3 / 4, 4 / 3]);
      if (box.x === 30 && box.y === 0 && box.w === 40 && box.h === 30) fallbacks++;
    }
    expect(Math.abs(fallbacks / draws - 0.6474)).toBeLessThan(0.015);
  });

  it('RandomResizedCrop.get_params falls back to the same centre crop', () => {
    const [i1, j1, h1, w1] = reference.rrc_fallback_wide;
    expect(randomResizedCropBox(100, 10, new Rng(1), [0.9, 1], [3 / 4, 4 / 3])).toEqual({
      x: j1,
      y: i1,
      w: w1,
      h: h1,
    });
    const [i2, j2, h2, w2] = reference.rrc_fallback_tall;
    expect(randomResizedCropBox(10, 100, new Rng(1), [0.9, 1], [3 / 4, 4 / 3])).toEqual({
      x: j2,
      y: i2,
      w: w2,
      h: h2,
    });
  });
});

describe("JigCluTransform's crops", () => {
  it('patchRects gives the reference boxes for m = 2, cross 0.3 (its order is column-major, ours row-major)', () => {
    for (const [size, boxes] of Object.entries(reference.jigclu_boxes)) {
      const [width, height] = size.split('x').map(Number) as [number, number];
      const ours = patchRects(width, height, 2, 0.3);
      // reference crop order: top-left, bottom-left, top-right, bottom-right
      const asReference = [ours[0]!, ours[2]!, ours[1]!, ours[3]!];
      expect(asReference.map((r) => [r.x, r.y, r.x + r.w, r.y + r.h, r.w, r.h])).toEqual(boxes);
    }
  });
});
