package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/duration"
)

// expiryFlag is --expires of `hdn admin key create`: a lifetime ("90d",
// "2160h", "1d12h") or an RFC 3339 date or time ("2027-03-01",
// "2027-03-01T12:00:00Z"), in the future.
type expiryFlag struct {
	spec string
	d    time.Duration // a lifetime, or
	at   time.Time     // a moment
}

func (f *expiryFlag) String() string { return f.spec }

func (f *expiryFlag) Set(v string) error {
	v = strings.TrimSpace(v)
	f.spec, f.d, f.at = v, 0, time.Time{}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		f.at = t.UTC()
		return nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		f.at = t.UTC()
		return nil
	}
	d, err := duration.Parse(v)
	if errors.Is(err, duration.ErrNegative) {
		return errors.New("a lifetime must not be negative")
	}
	if err != nil {
		return fmt.Errorf("%q is neither a lifetime (90d, 2160h) nor an RFC 3339 date (2027-03-01 or 2027-03-01T12:00:00Z)", v)
	}
	f.d = d
	return nil
}

// expiresAt is when a key made at now expires (zero: never).
func (f *expiryFlag) expiresAt(now time.Time) (time.Time, error) {
	switch {
	case !f.at.IsZero():
		if !f.at.After(now) {
			return time.Time{}, fmt.Errorf("--expires %s is not in the future", f.spec)
		}
		return f.at, nil
	case f.d > 0:
		return now.Add(f.d), nil
	}
	return time.Time{}, nil
}

// adminKeyRotate makes a key's successor (same organisation, role and name;
// shown once) and lets the old key expire after the grace period.
func adminKeyRotate(e *env) error {
	fs := e.flags("hdn admin key rotate")
	fs.String("data", "", "hub data directory")
	id := fs.String("id", "", "the key's id (from key list)")
	grace := durationFlag(fs, "grace", api.DefaultRotateGrace, "how long the old key keeps working (0: it stops at once; at most 30d)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	if *grace > api.MaxRotateGrace {
		return fmt.Errorf("--grace %s: from 0 to 30d", duration.Format(*grace))
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	old, err := st.KeyByID(e.ctx, *id)
	if err != nil {
		return fmt.Errorf("key %q: %w", *id, err)
	}
	org, err := st.Org(e.ctx, old.OrgID)
	if err != nil {
		return fmt.Errorf("organisation of key %q: %w", *id, err)
	}
	if org.Revoked {
		return fmt.Errorf("key %q: %s was offboarded", *id, org.Name)
	}
	rot, err := api.RotateKey(e.ctx, st, old, *grace, time.Now())
	if err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "key.rotate", old.ID, org.Name+": replaced by "+rot.New.ID+", expires "+rot.OldExpiresAt.Format(time.RFC3339)); err != nil {
		return err
	}
	return printJSON(e.stdout, api.RotationJSON(rot, org.Name))
}
