package plot_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"

	"ssl/probe"
	"ssl/probe/plot"
)

func ExampleConfusionHeatmap() {
	pred := []int{0, 0, 1, 1, 1, 2}
	target := []int{0, 0, 1, 1, 2, 2}
	conf, err := probe.Confusion(nil, pred, target, 3, 3)
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer // or an *os.File
	if err := plot.ConfusionHeatmap(&buf, conf, 3, 3, &plot.ConfusionHeatmapOptions{Width: 320, Height: 240}); err != nil {
		log.Fatal(err)
	}
	cfg, err := png.DecodeConfig(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(conf, cfg.Width, cfg.Height)
	// Output: [2 0 0 0 2 1 0 0 1] 320 240
}
