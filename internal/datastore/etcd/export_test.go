package etcd

// UseRanges makes ListPages use the fallback of servers without
// RangeStream, reading chunk keys at a time.
func (s *Store) UseRanges(chunk int64) {
	s.noStream.Store(true)
	s.chunk = chunk
}

// Streams tells whether ListPages uses RangeStream.
func (s *Store) Streams() bool { return !s.noStream.Load() }
