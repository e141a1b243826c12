package policy

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid wraps every validation error: the object is malformed.
	ErrInvalid = errors.New("invalid policy")
	// ErrUnsupported wraps errors for valid fields hivenet does not
	// enforce (L7 rules, toFQDNs, ...): the policy is refused rather than
	// enforced differently from what it says.
	ErrUnsupported = errors.New("unsupported policy feature")
)

// fieldError is a problem with one field of one object.
type fieldError struct {
	object, field, msg string
	kind               error
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.object, e.field, e.msg)
}

func (e *fieldError) Unwrap() error { return e.kind }

func invalid(object, field, format string, args ...any) error {
	return &fieldError{object: object, field: field, msg: fmt.Sprintf(format, args...), kind: ErrInvalid}
}

func unsupported(object, field, format string, args ...any) error {
	return &fieldError{object: object, field: field, msg: fmt.Sprintf(format, args...), kind: ErrUnsupported}
}
