//go:build !windows && !darwin

package secret

import "context"

// Open opens the system keyring for the config dir configDir: on Linux
// and the BSDs the Secret Service (OpenSecretService).
func Open(ctx context.Context, configDir string) (Keyring, error) {
	return OpenSecretService(ctx, configDir)
}
