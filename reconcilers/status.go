package reconcilers

import (
	"fmt"
	"time"
)

// StatusKind says where an object is in reconciliation.
type StatusKind uint8

const (
	// StatusKindPending: the object was written and is not yet in the
	// target (or is queued for a retry after an error was cleared).
	StatusKindPending StatusKind = iota
	// StatusKindDone: the object is in the target as written.
	StatusKindDone
	// StatusKindError: the last attempt failed; the reconciler retries it.
	StatusKindError
)

func (k StatusKind) String() string {
	switch k {
	case StatusKindPending:
		return "pending"
	case StatusKindDone:
		return "done"
	case StatusKindError:
		return "error"
	}
	return fmt.Sprintf("StatusKind(%d)", uint8(k))
}

// MarshalText makes the kind read as a word in JSON and YAML output.
func (k StatusKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses what MarshalText wrote.
func (k *StatusKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "pending":
		*k = StatusKindPending
	case "done":
		*k = StatusKindDone
	case "error":
		*k = StatusKindError
	default:
		return fmt.Errorf("unknown reconciliation status %q: want pending, done or error", b)
	}
	return nil
}

// Status is the reconciliation status a desired-state object carries. Embed
// it (or hold it in a field) and give the reconciler accessors for it in
// [Config]. Writers insert objects with [StatusPending]; the reconciler
// writes back [StatusDone] or [StatusError].
//
// Writers must mark every version they write as pending, including when
// they change an object the reconciler marked done or error: the reconciler
// takes versions with any other status for its own write-backs and does
// not apply them.
type Status struct {
	Kind      StatusKind `json:"kind" yaml:"kind"`
	UpdatedAt time.Time  `json:"updated-at" yaml:"updated-at"`
	// Error is the message of the last failure when Kind is StatusKindError.
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// StatusPending is the status writers give an object they insert or change.
func StatusPending() Status {
	return Status{Kind: StatusKindPending, UpdatedAt: time.Now()}
}

// StatusDone is the status of an object that is in the target.
func StatusDone() Status {
	return Status{Kind: StatusKindDone, UpdatedAt: time.Now()}
}

// StatusError is the status of an object whose last attempt failed with err.
func StatusError(err error) Status {
	return Status{Kind: StatusKindError, UpdatedAt: time.Now(), Error: err.Error()}
}

// IsDone reports whether the object is in the target.
func (s Status) IsDone() bool { return s.Kind == StatusKindDone }

// String reads like "done (3s ago)" or "error (1s ago): file exists", which
// is how `hivenet db show` prints it.
func (s Status) String() string {
	ago := "never"
	if !s.UpdatedAt.IsZero() {
		ago = time.Since(s.UpdatedAt).Truncate(time.Millisecond).String() + " ago"
	}
	if s.Kind == StatusKindError {
		return fmt.Sprintf("%s (%s): %s", s.Kind, ago, s.Error)
	}
	return fmt.Sprintf("%s (%s)", s.Kind, ago)
}
