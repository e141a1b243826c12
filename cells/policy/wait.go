package policy

import (
	"context"
	"reflect"
)

// waitAny blocks until one of the channels is closed or ctx is done (then
// it returns ctx's error). Nil channels are ignored.
func waitAny(ctx context.Context, chans ...<-chan struct{}) error {
	cases := make([]reflect.SelectCase, 0, len(chans)+1)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, c := range chans {
		if c != nil {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
		}
	}
	if i, _, _ := reflect.Select(cases); i == 0 {
		return ctx.Err()
	}
	return nil
}
