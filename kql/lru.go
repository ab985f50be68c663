package kql

import "sync"

// lru is a small bounded cache; when full it is cleared (regex compilation
// is cheap compared with a query, so precision is not needed).
type lru[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]V
}

func newLRU[K comparable, V any](max int) *lru[K, V] { return &lru[K, V]{max: max, m: map[K]V{}} }

func (l *lru[K, V]) get(k K) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[k]
	return v, ok
}

func (l *lru[K, V]) put(k K, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= l.max {
		clear(l.m)
	}
	l.m[k] = v
}
