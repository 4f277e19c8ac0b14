package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// CheckSubmission refuses what must never be stored, whoever calls.
func CheckSubmission(sub *model.Submission) error {
	switch {
	case sub.Type == "":
		return errors.New("type is empty")
	case sub.Value == "":
		return errors.New("value is empty")
	case sub.Source == "":
		return errors.New("source organisation is empty")
	case !slices.Contains(policy.TLPs, sub.TLP):
		return fmt.Errorf("tlp %q is not one of clear, green, amber, amber+strict, red", sub.TLP)
	case sub.Confidence < 0 || sub.Confidence > 100:
		return fmt.Errorf("confidence %d is not within 0-100", sub.Confidence)
	case len(sub.Value) > indicator.MaxStoredLen:
		return fmt.Errorf("value is %d bytes, at most %d can be stored", len(sub.Value), indicator.MaxStoredLen)
	}
	if err := checkText("value", sub.Value); err != nil {
		return err
	}
	if err := checkText("description", sub.Description); err != nil {
		return err
	}
	if err := checkText("labels", sub.Labels...); err != nil {
		return err
	}
	if err := checkText("tags", sub.Tags...); err != nil {
		return err
	}
	return policy.CheckAudience(sub.TLP, sub.Audience)
}

// checkText refuses text that is not valid UTF-8 or holds a NUL: SQLite
// would keep it, PostgreSQL fails on it, and no reader could use it. Both
// stores refuse it alike.
func checkText(what string, ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%s holds invalid UTF-8 or a NUL", what)
		}
	}
	return nil
}

// Facts are the policy facts of an indicator that an update may change:
// what an ingest's upsert returns of an updated indicator as it was.
type Facts struct {
	TLP   policy.TLP
	Kind  policy.AudienceKind
	Group string
	orgs  []string // sorted, without duplicates
}

// SubmittedFacts are the facts a submission gives its indicator, as stored.
func SubmittedFacts(sub *model.Submission) Facts {
	f := Facts{TLP: sub.TLP, Kind: sub.Audience.Kind}
	switch f.Kind {
	case "":
		f.Kind = policy.Network
	case policy.Group:
		f.Group = sub.Audience.Group
	case policy.Orgs:
		f.orgs = sortedSet(sub.Audience.Orgs)
	}
	return f
}

func (f Facts) sameAudience(g Facts) bool {
	return f.TLP == g.TLP && f.Kind == g.Kind && f.Group == g.Group && slices.Equal(f.orgs, g.orgs)
}

// PutBefores records, on the change entries of updates that changed who may
// see an indicator (TLP, audience), the policy facts from before: prev holds
// TLP and audience kind and group from the upsert, the old explicit list
// comes from indicator_audience (or from an earlier submission of the same
// indicator in this batch), the group's members from group_members.
//
// It is the part of an ingest's Put that both stores share: tx is the
// ingest's transaction (a write transaction of s's DB), ns the indicators'
// keys, created whether each was new, prev the facts of the updated ones,
// base the change sequence before the first.
func PutBefores(ctx context.Context, s *Store, tx Tx, subs []model.Submission, ns []int64, created []bool, prev []Facts, base int64) error {
	var listed []int64
	var groups []string
	for i := range subs {
		switch {
		case created[i]:
		case prev[i].Kind == policy.Orgs:
			listed = append(listed, ns[i])
		case prev[i].Kind == policy.Group && !slices.Contains(groups, prev[i].Group):
			groups = append(groups, prev[i].Group)
		}
	}
	q := Querier{s, tx, false}
	stored := map[string][]string{}
	if len(listed) > 0 {
		var err error
		if stored, err = q.Pairs(ctx, `SELECT indicator_n, org_id FROM indicator_audience
			WHERE indicator_n IN (`+s.d.IntArray("?")+`) ORDER BY indicator_n, org_id`, JSONInts(listed)); err != nil {
			return fmt.Errorf("audience before: %w", err)
		}
	}
	members := map[string][]string{}
	if len(groups) > 0 {
		var err error
		if members, err = q.GroupMembers(ctx, groups); err != nil {
			return err
		}
	}
	lists := map[int64][]string{} // explicit lists as this batch leaves them
	for i := range subs {
		after := SubmittedFacts(&subs[i])
		if !created[i] {
			before := prev[i]
			if before.Kind == policy.Orgs {
				var ok bool
				if before.orgs, ok = lists[ns[i]]; !ok {
					before.orgs = stored[strconv.FormatInt(ns[i], 10)]
				}
			}
			if !before.sameAudience(after) {
				var m []string
				if before.Kind == policy.Group {
					m = members[before.Group]
				}
				if _, err := tx.ExecContext(ctx, `UPDATE changes SET before_tlp = ?, before_audience_kind = ?,
					before_audience_group = ?, before_orgs = ?, before_members = ? WHERE seq = ?`,
					string(before.TLP), string(before.Kind), OptString(before.Group),
					EncodeList(before.orgs), EncodeList(m), base+1+int64(i)); err != nil {
					return fmt.Errorf("audience before: %w", err)
				}
			}
		}
		lists[ns[i]] = after.orgs
	}
	return nil
}
