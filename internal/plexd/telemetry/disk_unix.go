//go:build unix

package telemetry

import "syscall"

// statfsUsage is DiskUsage over statfs(2).
func statfsUsage(path string) (uint64, uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize)
	total := st.Blocks * bs
	return total, total - min(st.Bfree*bs, total), nil
}
