package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hdnetwork/hdn/internal/store"
)

// TestFullMapsDiskFull: PostgreSQL's disk_full, however wrapped, is
// store.ErrFull (the API's 507); other errors are left as they are.
func TestFullMapsDiskFull(t *testing.T) {
	diskFull := fmt.Errorf("postgres: put: %w", &pgconn.PgError{Code: pgDiskFull, Message: "could not extend file"})
	if err := full(diskFull); !errors.Is(err, store.ErrFull) || !errors.Is(err, diskFull) {
		t.Errorf("full(disk_full) = %v: want ErrFull, keeping the cause", err)
	}
	if err := full(full(diskFull)); err.Error() != full(diskFull).Error() {
		t.Errorf("marked twice: %v", err)
	}
	for _, other := range []error{nil, errors.New("boom"), &pgconn.PgError{Code: pgUniqueViolation}} {
		if err := full(other); err != other {
			t.Errorf("full(%v) = %v: want it unchanged", other, err)
		}
	}
}
