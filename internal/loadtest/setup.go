package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// org is one of the run's organisations: a subscriber (sensor key), and for
// the first Submitters also a submitter (analyst key).
type org struct {
	id, name   string
	sensorKey  string
	analystKey string
	group      int // ProfileSpread: the group it is in
	subscriber bool
}

// group is a sharing group of ProfileSpread.
type group struct {
	id, name string
	members  []string // organisation ids
}

// setupper makes organisations, keys and groups.
type setupper interface {
	org(ctx context.Context, name string) (id string, err error)
	key(ctx context.Context, orgID, orgName string, role policy.Role) (string, error)
	group(ctx context.Context, name string, memberIDs, memberNames []string) (id string, members []string, err error)
	head(ctx context.Context) (int64, error)
}

// setup makes the run's organisations, keys and groups.
func (r *runner) setup(ctx context.Context, s setupper) error {
	c := r.cfg
	n := max(c.Submitters, c.Subscribers)
	r.orgs = make([]org, n)
	start := time.Now()
	for i := range r.orgs {
		o := &r.orgs[i]
		o.name = fmt.Sprintf("hdn-load-%s-%04d", r.tag, i)
		o.subscriber = i < c.Subscribers
		var err error
		if o.id, err = s.org(ctx, o.name); err != nil {
			return fmt.Errorf("loadtest: create organisation %s: %w", o.name, err)
		}
		if o.subscriber || c.SightingRate > 0 {
			if o.sensorKey, err = s.key(ctx, o.id, o.name, policy.Sensor); err != nil {
				return fmt.Errorf("loadtest: create key: %w", err)
			}
		}
		if i < c.Submitters {
			if o.analystKey, err = s.key(ctx, o.id, o.name, policy.Analyst); err != nil {
				return fmt.Errorf("loadtest: create key: %w", err)
			}
		}
	}
	if c.Profile == ProfileSpread {
		r.groups = make([]group, c.Groups)
		for g := range r.groups {
			var ids, names []string
			for i := g; i < n; i += c.Groups {
				r.orgs[i].group = g
				ids, names = append(ids, r.orgs[i].id), append(names, r.orgs[i].name)
			}
			name := fmt.Sprintf("hdn-load-%s-g%02d", r.tag, g)
			id, members, err := s.group(ctx, name, ids, names)
			if err != nil {
				return fmt.Errorf("loadtest: create group %s: %w", name, err)
			}
			r.groups[g] = group{id: id, name: name, members: members}
		}
	}
	// A few indicators from before the load, so that sightings have
	// something to report from the first moment.
	if c.SightingRate > 0 {
		if err := r.seedIndicators(ctx); err != nil {
			return fmt.Errorf("loadtest: seed indicators: %w", err)
		}
	}
	var err error
	if r.startCursor, err = s.head(ctx); err != nil {
		return fmt.Errorf("loadtest: the hub's change sequence: %w", err)
	}
	r.log.Info("load test set up", "organisations", n, "groups", len(r.groups), "took", time.Since(start))
	return nil
}

// viewer is what the policy knows of organisation i.
func (r *runner) viewer(i int) policy.Viewer {
	v := policy.Viewer{OrgID: r.orgs[i].id, Kind: policy.Member}
	if r.cfg.Profile == ProfileSpread {
		v.Groups = []string{r.groups[r.orgs[i].group].id}
	}
	return v
}

// storeSetup sets up through the store of an in-process hub.
type storeSetup struct{ st store.Store }

func (s *storeSetup) org(ctx context.Context, name string) (string, error) {
	o, err := s.st.CreateOrg(ctx, model.Org{Name: name, Kind: policy.Member})
	return o.ID, err
}

func (s *storeSetup) key(ctx context.Context, orgID, _ string, role policy.Role) (string, error) {
	plain, id, hash := auth.NewKey()
	return plain, s.st.CreateKey(ctx, model.Key{ID: id, OrgID: orgID, Role: role, Hash: hash, Name: "hdn bench load", Created: time.Now().UTC()})
}

func (s *storeSetup) group(ctx context.Context, name string, ids, _ []string) (string, []string, error) {
	g, err := s.st.CreateGroup(ctx, model.Group{Name: name, Owner: ids[0], Members: ids})
	return g.ID, g.Members, err
}

func (s *storeSetup) head(ctx context.Context) (int64, error) { return s.st.LastSeq(ctx) }

// apiSetup sets up through the API of an existing hub with the admin key
// of its coordinator organisation.
type apiSetup struct {
	base, admin string
	client      *http.Client
}

// call sends a JSON request, waiting out 429 answers (Retry-After).
func (s *apiSetup) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if in != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.admin)
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 60 {
			wait := time.Second
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
				wait = time.Duration(n) * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
		}
		return json.Unmarshal(b, out)
	}
}

func (s *apiSetup) org(ctx context.Context, name string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := s.call(ctx, http.MethodPost, "/api/v1/orgs", map[string]string{"name": name, "kind": "member"}, &out)
	return out.ID, err
}

func (s *apiSetup) key(ctx context.Context, _, orgName string, role policy.Role) (string, error) {
	var out struct {
		Key string `json:"key"`
	}
	err := s.call(ctx, http.MethodPost, "/api/v1/orgs/"+orgName+"/keys", map[string]string{"role": string(role), "name": "hdn bench load"}, &out)
	return out.Key, err
}

func (s *apiSetup) group(ctx context.Context, name string, ids, names []string) (string, []string, error) {
	// The coordinator's organisation owns the group and is a member of it;
	// it subscribes to nothing here, so the counts are not affected.
	var out struct {
		ID string `json:"id"`
	}
	if err := s.call(ctx, http.MethodPost, "/api/v1/groups", map[string]any{"name": name, "members": names}, &out); err != nil {
		return "", nil, err
	}
	return out.ID, ids, nil
}

// head is the newest change the coordinator can see: the run's events all
// come after it, and subscribers start there instead of taking a snapshot.
func (s *apiSetup) head(ctx context.Context) (int64, error) {
	var out struct {
		Indicators []struct {
			Seq int64 `json:"seq"`
		} `json:"indicators"`
	}
	if err := s.call(ctx, http.MethodGet, "/api/v1/indicators?order=desc&limit=1&include_revoked=true", nil, &out); err != nil {
		return 0, err
	}
	if len(out.Indicators) == 0 {
		return 0, nil
	}
	return out.Indicators[0].Seq, nil
}
