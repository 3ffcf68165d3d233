//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sinks

import "os"

// lockTemp does nothing where flock is not available.
func lockTemp(*os.File) error { return nil }

// abandoned cannot tell a live writer's file from a leftover without
// flock: none is taken for a leftover.
func abandoned(string) bool { return false }
