package index

import (
	"encoding/binary"
	"strconv"
)

// Unsigned integers are big-endian so that byte order is numeric order.
// Signed integers additionally flip the sign bit so that negative numbers
// sort before positive ones.

// Uint64 encodes n as 8 big-endian bytes.
func Uint64(n uint64) Key { return binary.BigEndian.AppendUint64(make(Key, 0, 8), n) }

// Uint32 encodes n as 4 big-endian bytes.
func Uint32(n uint32) Key { return binary.BigEndian.AppendUint32(make(Key, 0, 4), n) }

// Uint16 encodes n as 2 big-endian bytes.
func Uint16(n uint16) Key { return binary.BigEndian.AppendUint16(make(Key, 0, 2), n) }

// Uint8 encodes n as 1 byte.
func Uint8(n uint8) Key { return Key{n} }

// Int64 encodes n as 8 bytes that sort numerically.
func Int64(n int64) Key { return Uint64(uint64(n) ^ (1 << 63)) }

// Int32 encodes n as 4 bytes that sort numerically.
func Int32(n int32) Key { return Uint32(uint32(n) ^ (1 << 31)) }

// Int16 encodes n as 2 bytes that sort numerically.
func Int16(n int16) Key { return Uint16(uint16(n) ^ (1 << 15)) }

// Int encodes n as Int64.
func Int(n int) Key { return Int64(int64(n)) }

// Uint64String parses a decimal uint64 and encodes it, for queries from text.
func Uint64String(s string) (Key, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, err
	}
	return Uint64(n), nil
}

// Uint32String parses a decimal uint32 and encodes it.
func Uint32String(s string) (Key, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, err
	}
	return Uint32(uint32(n)), nil
}

// Uint16String parses a decimal uint16 and encodes it.
func Uint16String(s string) (Key, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return nil, err
	}
	return Uint16(uint16(n)), nil
}

// Int64String parses a decimal int64 and encodes it.
func Int64String(s string) (Key, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, err
	}
	return Int64(n), nil
}

// IntString parses a decimal int and encodes it.
func IntString(s string) (Key, error) { return Int64String(s) }
