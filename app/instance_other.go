//go:build !unix

package app

// claimInstance makes this process the desktop app of dir; without unix
// sockets (Windows), through a loopback port (claimLoopback).
func claimInstance(dir string) (*instance, error) { return claimLoopback(dir) }
