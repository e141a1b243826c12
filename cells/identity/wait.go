package identity

import (
	"context"
	"reflect"
	"time"
)

// retryInterval is how soon a failed allocation is tried again.
const retryInterval = time.Second

func afterRetry() <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(retryInterval, func() { close(ch) })
	return ch
}

// waitAny blocks until one of the channels is closed or ctx is done (then
// it returns ctx's error). Nil channels are ignored.
func waitAny(ctx context.Context, extra <-chan struct{}, chans ...<-chan struct{}) error {
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	if extra != nil {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(extra)})
	}
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
