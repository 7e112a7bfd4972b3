package nlsafe

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// ack is a netlink acknowledgement of request seq with errno (0: done).
func ack(seq uint32, errno int32) []byte {
	b := binary.NativeEndian.AppendUint32(nil, unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN)
	b = binary.NativeEndian.AppendUint16(b, unix.NLMSG_ERROR)
	b = binary.NativeEndian.AppendUint16(b, 0)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(-errno))
	return append(b, make([]byte, unix.NLMSG_HDRLEN)...) // the request's header
}

// TestAnswers: each acknowledgement goes to its request by sequence
// number; those of other batches, repeats and other messages are ignored.
func TestAnswers(t *testing.T) {
	errs, done := make([]error, 3), make([]bool, 3)
	var b []byte
	for _, a := range [][]byte{ack(9, 0), ack(12, 0), ack(11, int32(unix.ENODEV)), ack(13, 0), ack(11, 0)} {
		b = append(b, a...)
	}
	if n := answers(b, 10, errs, done); n != 2 {
		t.Fatalf("%d answers found; want 2", n)
	}
	if n := answers(ack(10, 0), 10, errs, done); n != 1 {
		t.Fatalf("%d answers found; want 1", n)
	}
	if errs[0] != nil || errs[1] != syscall.ENODEV || errs[2] != nil || !done[0] || !done[1] || !done[2] {
		t.Fatalf("errs %v, done %v", errs, done)
	}
	fillErr(errs, []bool{true, false, true}, syscall.EIO)
	if errs[0] != nil || errs[1] != syscall.EIO || errs[2] != nil {
		t.Fatalf("after fillErr: %v", errs)
	}
}

// TestAppendMsg: a request becomes one aligned message asking for an
// acknowledgement.
func TestAppendMsg(t *testing.T) {
	b := appendMsg(nil, Request{Type: unix.RTM_NEWROUTE, Flags: unix.NLM_F_CREATE, Data: Attr(nil, unix.RTA_DST, 10, 0, 0, 1, 9)}, 7)
	if len(b)%unix.NLMSG_ALIGNTO != 0 || int(binary.NativeEndian.Uint32(b)) != unix.NLMSG_HDRLEN+12 {
		t.Fatalf("message %x", b)
	}
	flags := binary.NativeEndian.Uint16(b[6:])
	if flags != unix.NLM_F_CREATE|unix.NLM_F_REQUEST|unix.NLM_F_ACK || binary.NativeEndian.Uint32(b[8:]) != 7 {
		t.Fatalf("flags %#x, seq %d", flags, binary.NativeEndian.Uint32(b[8:]))
	}
}
