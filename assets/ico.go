package assets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/png"
)

// ICO wraps PNG images in an .ico container, one entry per image, the
// PNG bytes unchanged (Windows reads PNG entries since Vista, Wine too):
// Windows wants .ico for the tray icon and the program's icon.
func ICO(pngs ...[]byte) ([]byte, error) {
	var head, body bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&head, le, [3]uint16{0, 1, uint16(len(pngs))}) // reserved, type icon, count
	offset := 6 + 16*len(pngs)
	for i, p := range pngs {
		cfg, err := png.DecodeConfig(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("icon %d: %w", i, err)
		}
		if cfg.Width > 256 || cfg.Height > 256 {
			return nil, fmt.Errorf("icon %d: %dx%d, larger than 256x256", i, cfg.Width, cfg.Height)
		}
		// 256 is written as 0.
		head.Write([]byte{byte(cfg.Width), byte(cfg.Height), 0, 0}) // width, height, palette, reserved
		_ = binary.Write(&head, le, [2]uint16{1, 32})               // planes, bits per pixel
		_ = binary.Write(&head, le, [2]uint32{uint32(len(p)), uint32(offset + body.Len())})
		body.Write(p)
	}
	return append(head.Bytes(), body.Bytes()...), nil
}
