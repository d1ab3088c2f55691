// Package backbone holds the networks the self-supervised methods train: a
// small set of layers with hand-written backward passes, the fmnist-ssl-v1
// ConvNet3 and a CIFAR ResNet-18, the SSL heads (projection MLP, BYOL
// predictor, SwAV prototypes), optimizers (SGD, LARS, AdamW), the warm-up +
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
// # Writing a layer
//
// A program's own layer is any type with the five methods of [Layer]; it
// goes into a [Sequential], next to the built-in layers, and trains with the
// optimizers like them. Its contract:
//
//   - OutShape(in) returns the output shape for an input of shape in, or an
//     error wrapping ssl.ErrShape. Sequential calls it to size the
//     activations before each Forward.
//   - Forward(ws, dst, x, train) checks x and dst (ssl.View, ssl.ViewOf),
//     writes the output into dst without reading dst, and records in ws
//     what Backward needs with ws.Save(l, x, …), where l is the layer
//     itself: Save keeps references to the tensors, not copies. Vectors
//     computed in Forward for Backward (norms, masks) go into
//     ws.Scratch(i, n), which keeps them and reuses their memory from one
//     pass to the next; each sub-layer a layer runs gets ws.Child(i) as its
//     workspace.
//   - Backward(ws, dx, dy) gets the saved tensors back with ws.Saved(l),
//     which returns an error wrapping ssl.ErrParam if ws holds no forward
//     pass of l, ADDS the gradient of each parameter into its [Param].Grad,
//     and OVERWRITES dx, of x's shape, with the gradient of the input; dx
//     may be nil (the first layer of a network), and then is skipped.
//   - Params and Buffers return the layer's [Param]s, trainable (with a
//     Grad of the value's shape) and not; their names should be unique in
//     the network, as the optimizers and checkpoints key on them.
//
// Inside a Sequential the layer's x, dst, dx and dy are tensors viewing the
// network's activation and gradient buffers: they stay valid, and
// unchanged, from Forward to the matching Backward. A type that embeds a
// built-in layer and overrides Forward or Backward gets its overrides
// called; Sequential runs the package's own layer types directly on their
// buffers and every other type through its exported methods.
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
// optimizer ([SGD], [LARS], [AdamW]) or [EMAUpdate], and stores them with
// [SaveSafetensors] / [LoadSafetensors] or in a [Checkpoint]. Values are updated in place: the
// tensors a layer was built with stay its tensors.
//
// # Checkpoints
//
// A [Checkpoint] is a set of named tensors with string metadata, in the
// safetensors format (huggingface/safetensors) on disk: float32 tensors
// ("F32": parameters, optimizer state, queues and memory banks) and integer
// ones ("I64" for Go ints: pseudo-labels, cluster assignments, N×k neighbor
// lists; "I32"), so that a run saves everything it needs to resume.
// [Checkpoint.WriteTo] writes one and [ReadCheckpoint] reads and validates
// one; the Set methods copy data in and the getters copy it out, checking
// the dtype and shape. [SaveSafetensors] and [LoadSafetensors] are the
// shorthand for a list of [Param]s, and their files load in PyTorch with
// safetensors.torch.load_file. A truncated or malformed file returns an
// error wrapping [ErrFormat] (and so ssl.ErrFormat) that names the byte
// offset or the header field at fault.
//
// # Conventions
//
// Images are N×C×H×W, row-major float32; a convolution weight is O×C×k×k,
// a linear weight out×in, as in PyTorch. Batch normalization in training
// mode uses the batch statistics and updates the running ones as PyTorch
// does (unbiased variance, momentum 0.1 by default); in evaluation mode it
// uses the running statistics.
//
// The package follows the library's conventions (see package ssl):
// tensors are float32 and scalar settings float64 (learning rates, weight
// decay, momenta, batch-normalization eps and momentum, the EMA τ);
// optional settings come in <Type>Options structs whose zero fields mean
// the documented defaults; destinations come before inputs
// ([Checkpoint.Float32] too). Layer.Forward and Layer.Backward take their
// [Workspace] positionally, because it is not scratch memory but the
// record of a forward pass that its backward pass needs.
//
// # Errors
//
// Shapes that do not fit a layer, a batch of 0, NaN or ±Inf in an input or
// an upstream gradient, and non-finite results return errors wrapping
// ssl.ErrShape, ssl.ErrParam or ssl.ErrNotFinite that name the layer and the
// tensor, before anything is written. Gradients are checked by the
// optimizers, which name the parameter.
//
// # Determinism and threads
//
// Work is split over the batch (convolutions) or the channels (batch
// normalization) with internal/kernel.ParallelFor in blocks fixed by the
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
