//go:build !race

package losses

// ctrRace reports whether the race detector is on: it changes what
// escapes, so allocation counts are not checked then.
const ctrRace = false
