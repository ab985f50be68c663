//go:build !linux

package main

import (
	"errors"
	"time"
)

// processCPU is read from /proc on Linux only.
func processCPU(int) (time.Duration, error) {
	return 0, errors.New("--server-pid needs Linux's /proc")
}
