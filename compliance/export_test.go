package compliance

// QueuedWrites exposes queuedWrites to the tests of compliance_test.
func (s *Service) QueuedWrites() int { return s.queuedWrites() }

// IndexedRelated reports whether the index of existence checks holds the
// document at key.
func (s *Service) IndexedRelated(key string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.related.byKey[key] != nil
}
