//go:build linux

package exepages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	// Linked in for their start-up work alone, so that the child's image
	// is as large as vipd's and mostly pages only start-up touched.
	_ "github.com/vipd/vipd/agent"
	_ "github.com/vipd/vipd/server"

	"github.com/vipd/vipd/internal/lab"
)

// smapsSample is /proc/PID/smaps of a made-up process: the executable's
// code, read-only data, data and bss, a PIE binary's relocated read-only
// data (private copies, so anonymous), a mapping whose smaps lacks the
// Anonymous line, a shared library, and the heap. The code's pages are
// dirty in the page cache, as a freshly built binary's are: that does not
// make them modified.
const smapsSample = `00400000-00d74000 r-xp 00000000 fe:00 9986393                            /usr/sbin/vipd (deleted)
Size:               9680 kB
Rss:                7952 kB
Private_Dirty:      7952 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me sd
00d74000-017a5000 r--p 00974000 fe:00 9986393                            /usr/sbin/vipd (deleted)
Rss:                8068 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
017a5000-0181b000 rw-p 013a5000 fe:00 9986393                            /usr/sbin/vipd (deleted)
Rss:                 344 kB
Private_Dirty:       120 kB
Anonymous:           120 kB
01900000-01910000 r--p 01500000 fe:00 9986393                            /usr/sbin/vipd (deleted)
Rss:                  64 kB
Private_Dirty:        64 kB
Anonymous:            64 kB
01910000-01920000 r--p 01510000 fe:00 9986393                            /usr/sbin/vipd (deleted)
Rss:                  64 kB
7f50cca5f000-7f50ccbb5000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 836 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
b2a9800000-b2aa400000 rw-p 00000000 00:00 0 
Rss:                7216 kB
Private_Dirty:      7216 kB
Anonymous:          7216 kB
`

func TestParseSmaps(t *testing.T) {
	maps, err := parseSmaps(strings.NewReader(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 7 {
		t.Fatalf("parsed %d mappings, want 7: %+v", len(maps), maps)
	}
	exe := "/usr/sbin/vipd (deleted)"
	var releasable []uint64
	for _, m := range maps {
		if m.path == exe && !m.writable && !m.shared && !m.modified() {
			releasable = append(releasable, m.start)
		}
	}
	// Code and read-only data only: not the data segment, not the
	// relocated data, not the one whose smaps lacks the Anonymous line.
	if want := []uint64{0x400000, 0xd74000}; !slices.Equal(releasable, want) {
		t.Fatalf("releasable mappings start at %x, want %x", releasable, want)
	}
	if m := maps[0]; m.end != 0xd74000 || m.rss != 7952<<10 || m.path != exe {
		t.Fatalf("first mapping %+v", m)
	}
	if m := maps[6]; m.path != "" || !m.writable || m.anonymous != 7216<<10 {
		t.Fatalf("anonymous mapping %+v", m)
	}
}

func TestParseSmapsRejectsGarbage(t *testing.T) {
	for name, in := range map[string]string{
		"field first":   "Rss: 4 kB\n",
		"bad range":     "0040-zz r-xp 0 fe:00 1 /x\n",
		"short header":  "00400000-00500000 r-xp 0\n",
		"bad size unit": "00400000-00500000 r-xp 0 fe:00 1 /x\nRss: 4 MB\n",
	} {
		if _, err := parseSmaps(strings.NewReader(in)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

// child is this test binary run again as the child TestMain drives,
// answering a line on its stdin with one on its stdout.
type child struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startChild starts a child, killed when the test ends.
func startChild(t *testing.T) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return &child{t: t, cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
}

// say sends the child a command and returns its answer, trimmed.
func (c *child) say(command string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		c.t.Fatal(err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.t.Fatalf("child answered %q to %s: %v", line, command, err)
	}
	return strings.TrimSpace(line)
}

// step sends a command and fails the test unless the answer starts with
// want; it returns the rest.
func (c *child) step(command, want string) string {
	c.t.Helper()
	line := c.say(command)
	if !strings.HasPrefix(line, want) {
		c.t.Fatalf("child answered %q to %s, want %s", line, command, want)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, want))
}

// end closes the child's input, which ends it, and fails the test unless
// it exits cleanly.
func (c *child) end() {
	c.t.Helper()
	c.in.Close()
	if err := c.cmd.Wait(); err != nil {
		c.t.Fatalf("child: %v", err)
	}
}

// TestReleaseUnmapsAndKeepsRunning runs this test binary again as a child
// that releases its read-only image: watched from outside (reading its
// smaps touches none of its pages), its mapped image shrinks, and it goes
// on running code from it afterwards.
func TestReleaseUnmapsAndKeepsRunning(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		t.Skip("the child's own run") // never reached: see TestMain
	}
	c := startChild(t)
	pid := c.cmd.Process.Pid
	c.step("work", "worked")
	_, before := imageSize(t, pid)
	stats := c.step("release", "released")
	_, after := imageSize(t, pid)
	t.Logf("the child's read-only image mapped: %d kB before, %d kB after release (%s)", before>>10, after>>10, stats)
	if after > before/3 {
		t.Fatalf("the child's read-only image still has %d kB mapped after release, %d kB before", after>>10, before>>10)
	}
	c.step("work", "worked") // the code it runs faults back in
	c.end()
}

// TestLockKeepsImageResident: Lock reads the whole read-only image in
// (what no run has touched yet included), and Release then leaves it
// alone, reporting the locked mappings.
func TestLockKeepsImageResident(t *testing.T) {
	c := startChild(t)
	pid := c.cmd.Process.Pid
	if r := c.say("lock"); !strings.HasPrefix(r, "locked") {
		// Only a lack of privilege may stop it, and not in CI (root).
		if os.Geteuid() == 0 {
			t.Fatalf("Lock: %s", r)
		}
		lab.SkipOrFail(t, "Lock needs CAP_IPC_LOCK or a large RLIMIT_MEMLOCK: %s", r)
	}
	size, rss := imageSize(t, pid)
	if rss != size {
		t.Fatalf("after Lock the read-only image has %d of %d kB mapped", rss>>10, size>>10)
	}
	c.step("release-locked", "kept")
	if _, rss := imageSize(t, pid); rss != size {
		t.Fatalf("after Release of a locked image %d of %d kB stay mapped", rss>>10, size>>10)
	}
	c.end()
}

func TestParseSmapsLocked(t *testing.T) {
	in := "00400000-00500000 r-xp 0 fe:00 1 /x\nRss: 4 kB\nAnonymous: 0 kB\nVmFlags: rd ex mr mw me lo ?? \n" +
		"00500000-00600000 r--p 0 fe:00 1 /x\nVmFlags: rd mr mw me\n"
	maps, err := parseSmaps(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 || !maps[0].locked || maps[1].locked {
		t.Fatalf("parsed %+v: want the first locked only", maps)
	}
}

const childEnv = "VIPD_EXEPAGES_CHILD"

// TestMain runs the child of TestReleaseUnmapsAndKeepsRunning: it answers
// each line on stdin, "work" by running some code, "release" by releasing
// its image, and exits at end of input.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "1" {
		os.Exit(m.Run())
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "work":
			fmt.Println("worked", strings.Repeat("ab", 3), strconv.Itoa(len(os.Args)))
		case "release":
			st, err := Release()
			if err != nil || st.Mappings < 2 {
				fmt.Fprintln(os.Stderr, "release:", st, err)
				os.Exit(1)
			}
			fmt.Printf("released %+v\n", st)
		case "lock":
			st, err := Lock()
			if err != nil {
				fmt.Printf("failed %v\n", err)
				continue
			}
			fmt.Printf("locked %+v\n", st)
		case "release-locked":
			st, err := Release()
			if err != nil || st.Mappings != 0 || st.Locked < 2 {
				fmt.Fprintln(os.Stderr, "release of a locked image:", st, err)
				os.Exit(1)
			}
			fmt.Printf("kept %+v\n", st)
		}
	}
	os.Exit(0)
}

// imageSize returns the size and the mapped bytes of a process's
// read-only mappings of its executable.
func imageSize(t *testing.T, pid int) (size, rss uint64) {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	maps, err := parseSmaps(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.path == exe && !m.writable {
			size += m.end - m.start
			rss += m.rss
		}
	}
	return size, rss
}
