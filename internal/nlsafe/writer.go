package nlsafe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Request is one rtnetlink write: the message type (unix.RTM_NEWROUTE,
// ...), its flags (NLM_F_REQUEST and NLM_F_ACK are added) and its payload,
// the family header and the attributes (see Attr).
type Request struct {
	Type  uint16
	Flags uint16
	Data  []byte
}

// Writer sends rtnetlink write requests over a socket of its own, many to
// one sendmsg, and matches each acknowledgement to its request: the kernel
// handles the messages of a sendmsg one after the other, answering each,
// so one request failing says nothing of the others. It is safe for
// concurrent use (requests are sent one batch at a time).
//
// It costs a fraction of the library's request (one socket write per
// batch, no read deadline, no buffer allocated per answer), which matters
// on a node's first apply: thousands of routes and neighbour entries.
type Writer struct {
	mu   sync.Mutex
	fd   int
	seq  uint32
	out  []byte
	in   []byte
	done []bool
}

// maxBatch bounds the requests of one sendmsg, so that their answers (a
// few hundred bytes of socket buffer each) always fit in the receive
// buffer: the kernel drops an answer that does not (and the socket then
// reports ENOBUFS).
const maxBatch = 64

// writerTimeout bounds the wait for an answer; the kernel answers before
// sendmsg returns, so it is only a guard.
const writerTimeout = 10

// OpenWriter opens a Writer in the network namespace of the calling
// thread.
func OpenWriter() (*Writer, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	err = errors.Join(
		unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}),
		// Error answers without a copy of the request.
		unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: writerTimeout}),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Sec: writerTimeout}))
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set up netlink socket: %w", err)
	}
	return &Writer{fd: fd, in: make([]byte, 8192), done: make([]bool, maxBatch)}, nil
}

// Close closes the socket.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	return err
}

// Do sends reqs in order and returns the kernel's answer to each:
// errs[i] is nil when reqs[i] was done, its errno (a syscall.Errno)
// otherwise. When the socket itself fails, the requests whose answer did
// not arrive get that error: whether they were done is unknown.
func (w *Writer) Do(reqs []Request) []error {
	errs := make([]error, len(reqs))
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 0; i < len(reqs); i += maxBatch {
		j := min(i+maxBatch, len(reqs))
		w.batch(reqs[i:j], errs[i:j])
	}
	return errs
}

// batch sends up to maxBatch requests in one sendmsg and reads their
// answers.
func (w *Writer) batch(reqs []Request, errs []error) {
	if w.fd < 0 {
		fillErr(errs, nil, errors.New("netlink writer closed"))
		return
	}
	base := w.seq + 1
	w.seq += uint32(len(reqs))
	w.out = w.out[:0]
	for i, r := range reqs {
		w.out = appendMsg(w.out, r, base+uint32(i))
	}
	done := w.done[:len(reqs)]
	clear(done)
	if err := unix.Sendto(w.fd, w.out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		fillErr(errs, done, fmt.Errorf("netlink send: %w", err))
		return
	}
	for left := len(reqs); left > 0; {
		n, _, err := unix.Recvfrom(w.fd, w.in, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fillErr(errs, done, fmt.Errorf("netlink receive: %w", err))
			return
		}
		left -= answers(w.in[:n], base, errs, done)
	}
}

// answers records the acknowledgements in b (one datagram) of the
// requests numbered from base and returns how many it found.
func answers(b []byte, base uint32, errs []error, done []bool) int {
	found := 0
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			break
		}
		typ := binary.NativeEndian.Uint16(b[4:6])
		i := binary.NativeEndian.Uint32(b[8:12]) - base
		if typ == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 && int(i) < len(done) && !done[i] {
			if errno := int32(binary.NativeEndian.Uint32(b[16:20])); errno != 0 {
				errs[i] = syscall.Errno(-errno)
			}
			done[i] = true
			found++
		}
		b = b[min(nlmsgAlign(l), len(b)):]
	}
	return found
}

// fillErr gives err to every request not answered (done nil: all).
func fillErr(errs []error, done []bool, err error) {
	for i := range errs {
		if done == nil || !done[i] {
			errs[i] = err
		}
	}
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// appendMsg appends r as a netlink message numbered seq.
func appendMsg(b []byte, r Request, seq uint32) []byte {
	l := unix.NLMSG_HDRLEN + len(r.Data)
	b = binary.NativeEndian.AppendUint32(b, uint32(l))
	b = binary.NativeEndian.AppendUint16(b, r.Type)
	b = binary.NativeEndian.AppendUint16(b, r.Flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // the kernel fills in the port
	b = append(b, r.Data...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// Attr appends a route attribute (type typ, value data) to b, padded.
func Attr(b []byte, typ uint16, data ...byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%unix.RTA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// Uint32 is v as an attribute value (native byte order).
func Uint32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// Do is w.Do; with w nil it opens a Writer in the network namespace of
// the calling thread for the call (err is then its failure to open).
func Do(w *Writer, reqs []Request) (errs []error, err error) {
	if w == nil {
		if w, err = OpenWriter(); err != nil {
			return make([]error, len(reqs)), err
		}
		defer w.Close()
	}
	return w.Do(reqs), nil
}
