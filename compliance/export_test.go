package compliance

// QueuedWrites exposes queuedWrites to the tests of compliance_test.
func (s *Service) QueuedWrites() int { return s.queuedWrites() }
