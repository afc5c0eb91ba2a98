package assets

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// The .ico holds each PNG unchanged, found where its directory entry
// says, with its size (256 written as 0).
func TestICO(t *testing.T) {
	ico, err := ICO(Icon, TrayOK)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(ico[0:]) != 0 || le.Uint16(ico[2:]) != 1 || le.Uint16(ico[4:]) != 2 {
		t.Fatalf("header % x", ico[:6])
	}
	for i, want := range []struct {
		png  []byte
		size byte
	}{{Icon, 0}, {TrayOK, 64}} {
		e := ico[6+16*i:]
		if e[0] != want.size || e[1] != want.size || le.Uint16(e[4:]) != 1 || le.Uint16(e[6:]) != 32 {
			t.Errorf("entry %d: % x", i, e[:16])
		}
		n, off := le.Uint32(e[8:]), le.Uint32(e[12:])
		if int(off+n) > len(ico) || !bytes.Equal(ico[off:off+n], want.png) {
			t.Errorf("entry %d: the image at %d+%d is not the PNG", i, off, n)
		}
	}
	if _, err := ICO([]byte("not a png")); err == nil {
		t.Error("ICO took something that is not a PNG")
	}
}
