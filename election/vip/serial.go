package vip

import (
	"net"
	"sync"
)

// serial runs functions one at a time on a goroutine of its own, which
// stop ends.
//
// Every netlink request goes through one: vishvananda/netlink receives each
// answer into a 64 kB array on the stack (nl.NetlinkSocket.Receive), so a
// goroutine that makes a request grows its stack to 128 kB and keeps it
// until the garbage collector has halved it back, one cycle at a time. A
// hundred instances adding their VIPs from their own goroutines held 13 MB
// of stacks that way for seconds; through a serial only one stack grows.
// The requests are a few tens of microseconds each, so queueing them costs
// less than an advert interval even for hundreds of instances.
type serial struct {
	reqs chan func()
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func newSerial() *serial {
	s := &serial{reqs: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *serial) run() {
	defer close(s.done)
	for {
		select {
		case f := <-s.reqs:
			f()
		case <-s.quit:
			return
		}
	}
}

// do runs f on the serial's goroutine and waits for it to return. After
// stop it runs nothing and returns net.ErrClosed.
func (s *serial) do(f func()) error {
	ran := make(chan struct{})
	select {
	case s.reqs <- func() { defer close(ran); f() }:
	case <-s.quit:
		return net.ErrClosed
	}
	<-ran
	return nil
}

// stop ends the goroutine after the function it is running, if any, and
// waits for it. It may be called more than once.
func (s *serial) stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}
