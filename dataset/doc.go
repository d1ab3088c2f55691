// Package dataset reads the image sets self-supervised training runs on: IDX
// files (MNIST, Fashion-MNIST; gzip-compressed or not), CIFAR-10 and
// CIFAR-100 binary batches, and folders of PNG/JPEG images laid out one
// sub-folder per class, as torchvision's ImageFolder reads them. It also
// embeds a class-balanced subset of Fashion-MNIST (6,000 training and 1,000
// test images) so that tests and default runs need no download.
//
// It is public because a program that trains with the library needs its
// images as the tensors the other packages take: users read Fashion-MNIST,
// CIFAR, their own image folders or the embedded subset with it, and feed
// [Set.Batch] to ssl/augment's pipelines.
//
// # Sets
//
// Every reader returns a [Set]: N images of C×H×W bytes in CHW order (as
// torchvision's ToTensor lays them out), one integer label per image, and the
// class names when the format carries them. [Set.Batch] and [Set.Tensor]
// turn images into float32 tensors with values p/255 in [0, 1], exactly as
// ToTensor does.
//
// # Fashion-MNIST
//
// [EmbeddedFashionMNIST] returns the embedded subset: the first 600 training
// and the first 100 test images of each class, in the order of the original
// files. [FashionMNIST] reads the full set from a folder holding the four
// original files ({train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped or
// not); [LoadFashionMNIST] picks a caller-given folder, else the full set at
// [DebianFashionMNISTDir] when Debian's dataset-fashion-mnist is installed,
// else the embedded subset. The embedded files are generated from the full
// set by gen_fashionmnist.go (go generate); Fashion-MNIST is © 2017 Zalando
// SE under the MIT licence, whose notice is in fashionmnist/LICENSE.
//
// # Errors
//
// A truncated or corrupt file (bad magic number, sizes that disagree with
// the header, a gzip stream that fails its checksum, a label out of range)
// returns an error wrapping [ErrFormat], which wraps ssl.ErrFormat, whose
// message names the file and the byte offset (in the uncompressed stream)
// where the problem was found; an image file that does not decode is named
// without an offset. Bad arguments return errors wrapping ssl.ErrParam (an
// unknown split, an index out of range) or ssl.ErrShape (a destination of
// the wrong shape), naming the function and the value; I/O errors are
// wrapped as they come, so errors.Is(err, fs.ErrNotExist) works.
package dataset
