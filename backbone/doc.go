// Package backbone holds the networks the self-supervised methods train: a
// small set of layers with hand-written backward passes, the fmnist-ssl-v1
// ConvNet3 and a CIFAR ResNet-18, the SSL heads (projection MLP, BYOL
// predictor, SwAV prototypes), optimisers (SGD, LARS, AdamW), the warm-up +
// cosine learning-rate schedule, BYOL's EMA target update, and weights on
// disk in the safetensors format.
//
// # Layers and workspaces
//
// Every layer and network implements [Layer]. A forward pass
//
//	err := net.Forward(ws, dst, x, train)
//
// writes the output into dst and records in the [Workspace] ws what the
// backward pass needs; the matching
//
//	err := net.Backward(ws, dx, dy)
//
// carries the upstream gradient dy back. ws holds references to x and to
// the layer's activations, so x must not change between the two calls. One
// workspace serves one forward pass at a time: two views of a batch that go
// through the same network before either goes back use two workspaces. A
// workspace grows on first use and is reused afterwards, so a training loop
// that keeps its workspaces and destinations allocates (almost) nothing per
// step (the parallel loops' hand-off and the GEMM kernel's pooled panels
// aside). Workspaces are not safe for concurrent use, and neither are
// layers (they keep scratch memory and accumulate gradients): run the views
// one after the other; each call already spreads its work over every core.
//
// # Gradients accumulate
//
// Backward ADDS the gradients of the parameters into [Param].Grad, because
// weights are shared by the views (and crops) of a batch, and OVERWRITES dx,
// the gradient of the input; a nil dx skips it. [ZeroGrad] clears the
// parameter gradients before the next step. This is the one exception to the
// library's rule that destinations are overwritten.
//
// # Parameters
//
// Parameters and buffers (batch-norm running statistics) are plain named
// float32 tensors ([Param]) whose names follow PyTorch's state_dict
// ("conv1.weight", "bn1.running_mean", "layer2.0.downsample.1.bias"). The
// caller iterates them with Params and Buffers, copies them with
// [CopyParams] (EMA targets, MoCo key encoders), updates them with an
// optimiser ([SGD], [LARS], [AdamW]) or [EMAUpdate], and stores them with
// [SaveSafetensors] / [LoadSafetensors]. Values are updated in place: the
// tensors a layer was built with stay its tensors.
//
// # Conventions
//
// Images are N×C×H×W, row-major float32; a convolution weight is O×C×k×k,
// a linear weight out×in, as in PyTorch. Batch normalisation in training
// mode uses the batch statistics and updates the running ones as PyTorch
// does (unbiased variance, momentum 0.1 by default); in evaluation mode it
// uses the running statistics.
//
// # Errors
//
// Shapes that do not fit a layer, a batch of 0, NaN or ±Inf in an input or
// an upstream gradient, and non-finite results return errors wrapping
// ssl.ErrShape, ssl.ErrParam or ssl.ErrNotFinite that name the layer and the
// tensor, before anything is written. Gradients are checked by the
// optimisers, which name the parameter.
//
// # Determinism and threads
//
// Work is split over the batch (convolutions) or the channels (batch
// normalisation) with internal/kernel.ParallelFor in blocks fixed by the
// problem size; partial sums are combined in block order, so results are
// bit-identical for any GOMAXPROCS.
//
// # References
//
// Layers match torch.nn.functional (PyTorch 1.13) as the reference vectors in
// internal/conformance/testdata/vectors/backbone record; LARS follows
// solo-learn's solo/utils/lars.py, the schedule SwAV's main_swav.py, and the
// EMA BYOL's byol/utils/schedules.py (Grill et al., NeurIPS 2020, eq. 1 and
// §3.2).
package backbone
