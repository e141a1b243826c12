package cell_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/cells/cell"
)

// GreeterConfig is the greeter module's configuration: --greeting and --repeat.
type GreeterConfig struct {
	Greeting string `help:"What to say"`
	Repeat   int    `help:"How often to say it"`
}

// Names is provided by one module and used by the other.
type Names []string

func Example() {
	h := cell.New(
		cell.Module("names", "Who to greet",
			cell.Provide(func() Names { return Names{"node-1", "node-2"} }),
		),
		cell.Module("greeter", "Greets every name when started",
			cell.Config(GreeterConfig{Greeting: "hello", Repeat: 1}),
			cell.Invoke(func(lc cell.Lifecycle, cfg GreeterConfig, names Names) {
				lc.Append(cell.Hook{OnStart: func(context.Context) error {
					for range cfg.Repeat {
						for _, n := range names {
							fmt.Println(cfg.Greeting, n)
						}
					}
					return nil
				}})
			}),
		),
	)
	fs := pflag.NewFlagSet("example", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	_ = fs.Parse([]string{"--greeting=hi", "--repeat=2"})
	h.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if err := h.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range h.Health().Modules() {
		fmt.Println(m.ID, m.Level)
	}
	_ = h.Stop(context.Background())
	// Output:
	// hi node-1
	// hi node-2
	// hi node-1
	// hi node-2
	// greeter OK
	// names OK
}
