// Package augment implements the image augmentations of self-supervised
// learning with torchvision's semantics, and the batched, parallel,
// deterministic pipelines that make the views a training step consumes:
// compositions and SwAV's multi-crop.
//
// # Images
//
// An image is float32 in CHW order with values nominally in [0, 1]
// (torchvision's ToTensor; ssl/dataset's Set.Batch produces them).
// Functions on one image take a rank-3 ssl.Tensor [C, H, W]; pipelines take
// batches [B, C, H, W]. [Image] is the view transforms work on.
//
// # Functions
//
// Each follows torchvision 0.14.1's functional API on tensors, whose exact
// formulas internal/conformance checks against reference cases:
//
//	ResizedCrop       crop a box and resize it, bilinear, antialias off
//	HFlip             mirror left–right
//	Rotate90          torch.rot90: quarter turns (RotNet, S4L, DeeperCluster)
//	AdjustBrightness  clamp(f·img)
//	AdjustContrast    clamp(f·img + (1−f)·mean(gray))
//	AdjustSaturation  clamp(f·img + (1−f)·gray)
//	AdjustHue         HSV hue shift
//	RGBToGrayscale    0.2989·R + 0.587·G + 0.114·B
//	GaussianBlur      separable Gaussian, reflect padding
//	Solarize          invert values ≥ threshold
//	Normalize         (img − mean)/std
//
// Clamping is torchvision's: brightness, contrast and saturation clamp to
// [0, 1], hue clamps only its p, q, t terms, the others never clamp.
//
// # Transforms and randomness
//
// A [Transform] draws its parameters from a *rand.Rand (math/rand/v2) in a
// fixed order, with the distributions of the torchvision class of the same
// name: [RandomResizedCrop] (scale, log-uniform ratio, 10 tries, central
// fallback), [RandomHorizontalFlip], [ColorJitter] (random order of the four
// adjustments), [RandomGrayscale], [RandomGaussianBlur], [RandomSolarize],
// [Normalization], composed by [Compose] and [RandomApply]; [Cutout] (no
// torchvision class) follows SCAN's strong augmentation. torch's random
// numbers themselves are not reproduced, only their distributions.
//
// [MultiCrop] (SwAV's multi-crop; one group of two views is the SimCLR/BYOL
// two-view pipeline) and [Batch] run a transform over a batch in parallel
// on all cores. View v of the image with identity id (its dataset index) is
// drawn from [Stream](seed, epoch, id, v), so a result depends only on
// (seed, epoch, id, v), never on the batch, the schedule or GOMAXPROCS.
// [NewMultiCrop] builds one from SwAV's MultiCropDataset arguments.
//
// # Allocation
//
// Transform.Apply of a single step allocates nothing. Inside [MultiCrop]
// and [Batch] the intermediate images of a [Compose] live in buffers each
// parallel block reuses from image to image, so a call allocates a few
// small buffers per block (about 300 allocations, 240 KB, for the 256-image
// multi-crop batch), never per image.
//
// # Aliasing and errors
//
// Functions write into a destination the caller passes (nil allocates one,
// which is returned). The pointwise ones (brightness, contrast, saturation,
// hue, solarize, normalize) and HFlip may work in place (dst = img exactly);
// the others need a destination that does not overlap the input. Every
// argument is checked before anything is written: wrong ranks, shapes and
// overlaps return errors wrapping ssl.ErrShape, invalid parameters (a crop
// size of 0, a scale range outside (0, 1], an even blur kernel, a zero std)
// errors wrapping ssl.ErrParam, each reading "augment: Func: what
// (name=value)". Scalar parameters (factors, probabilities, σ, scale and
// ratio ranges) are float64, as everywhere in the library; the images
// themselves are float32. A nil or typed-nil *tensor.Dense destination
// means "allocate".
package augment
