// Package plot draws the probe's tables as pictures: [ConfusionHeatmap]
// renders a contingency table (probe.Confusion) as a PNG heat map.
//
// It is a package of its own so that importing ssl/probe does not pull
// gonum.org/v1/plot, its vector back ends and its embedded fonts into every
// program that only needs the evaluations; probe's image grids (probe.Grid,
// probe.ClusterGrid) use the standard library's image/png alone.
//
// # Conventions
//
// The writer (the destination) comes first, then the inputs, then a
// pointer to the function's options; a nil options pointer and zero fields
// mean the documented defaults. Functions check every argument before
// writing anything and return errors wrapping ssl.ErrShape or
// ssl.ErrParam, named "plot: Func: what (name=value)", or the writer's
// error. Plots are drawn at 96 dpi (vgimg's default), so a picture of
// Width×Height pixels is exactly that size.
package plot
