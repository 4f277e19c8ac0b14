package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// `hdn admin rescreen` screens stored indicators again. The hub screens a
// value once, when it is submitted: a value stored before its canonical
// forms or warninglists became stricter stays live, in the exports and on
// the sensors, until it is revoked. The command applies today's rules to
// every live indicator — the canonical form of its type
// (indicator.CanonicalizeAs) and the warninglists as the hub builds them
// (warninglists: the shipped lists, --warninglists, --warninglist-kind),
// screened as a submission is (warninglist.Set.Screen) — and with --revoke
// revokes what they refuse, as the coordinator would through
// POST /api/v1/indicators/{id}/revoke.
//
// It works while the hub runs (SQLite in WAL mode takes a second process's
// writes; PostgreSQL any number): a running hub's stream broker polls the
// change log (every 2 s by default), so sensors, peers and exports learn of
// the revocations without a restart.

// overrideTag marks an indicator that the coordinator stored over a
// refusing warninglist (override_warninglists; api.Server.screen).
const overrideTag = "hdn:warninglist-override"

// rescreenPage is how many indicators one read of the walk takes.
const rescreenPage = 500

// The rules a finding names: a canonical-form error, or a warninglist
// (rulePrefixList + its name).
const (
	ruleCanonical  = "canonical-form"
	rulePrefixList = "warninglist:"
)

// rescreenFinding is one indicator today's rules refuse or flag.
type rescreenFinding struct {
	ID     string         `json:"id"`
	Type   indicator.Type `json:"type"`
	Value  string         `json:"value"`
	Source string         `json:"source"` // the source organisation's name
	TLP    policy.TLP     `json:"tlp"`
	// Rule is ruleCanonical or "warninglist:NAME"; Reason says why in words.
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	// Overridden: the coordinator stored it over a refusing warninglist;
	// it is kept unless --include-overridden.
	Overridden  bool `json:"overridden,omitempty"`
	Quarantined bool `json:"quarantined,omitempty"`
	Revoked     bool `json:"revoked,omitempty"` // by this run
}

// rescreenReport is what the command prints (--json: as one document).
type rescreenReport struct {
	Scanned int               `json:"scanned"` // live indicators screened
	Refused []rescreenFinding `json:"refused"`
	Flagged []rescreenFinding `json:"flagged"`
	Revoked int               `json:"revoked"`
}

func adminRescreen(e *env) error {
	fs := e.flags("hdn admin rescreen")
	fs.String("data", "", "hub data directory")
	wlDir := fs.String("warninglists", "", "the hub's --warninglists directory (give the hub's warninglist flags, so that the same lists screen)")
	var kinds multiFlag
	fs.Var(&kinds, "warninglist-kind", "the hub's NAME=refuse|flag changes (repeatable)")
	noWL := fs.Bool("no-warninglists", false, "check the canonical forms only (a hub run with --no-warninglists)")
	asJSON := fs.Bool("json", false, "print one JSON document instead of tables")
	revoke := fs.Bool("revoke", false, "revoke the refused indicators (not the flagged ones), one audit entry each")
	inclOverridden := fs.Bool("include-overridden", false, "with --revoke, revoke also what the coordinator stored over a refusing warninglist")
	if err := e.parse(fs); err != nil {
		return err
	}
	if *inclOverridden && !*revoke {
		return errors.New("hdn admin rescreen: --include-overridden goes with --revoke")
	}
	if *noWL && (*wlDir != "" || len(kinds) > 0) {
		return errors.New("hdn admin rescreen: --no-warninglists with --warninglists or --warninglist-kind: choose one")
	}
	var set *warninglist.Set
	if !*noWL {
		var err error
		if set, err = warninglists(*wlDir, kinds); err != nil {
			return fmt.Errorf("hdn admin rescreen: %w", err)
		}
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	rs := rescreener{st: st, set: set, revoke: *revoke, inclOverridden: *inclOverridden, orgs: map[string]model.Org{}}
	rep, err := rs.run(e.ctx, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("hdn admin rescreen: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, rep)
	}
	return printRescreen(e.stdout, rep, *revoke)
}

// rescreener walks a store's indicators and screens each again.
type rescreener struct {
	st                     store.Store
	set                    *warninglist.Set // nil: canonical forms only
	revoke, inclOverridden bool
	orgs                   map[string]model.Org // by id, as found
}

// run walks every indicator by sequence number, a page at a time, and
// screens the live ones (not revoked, not expired; quarantined ones too,
// which a release would make live again). An indicator revoked or changed
// during the walk moves to a later sequence number and may be read again:
// findings are kept once per id.
func (rs *rescreener) run(ctx context.Context, now time.Time) (rescreenReport, error) {
	rep := rescreenReport{Refused: []rescreenFinding{}, Flagged: []rescreenFinding{}}
	seen := map[string]bool{} // ids screened
	var after int64
	for {
		page, err := rs.st.ScanIndicators(ctx, after, rescreenPage, true)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			return rep, nil
		}
		after = page[len(page)-1].Seq
		for i := range page {
			ind := &page[i]
			if ind.Revoked || (!ind.ValidUntil.IsZero() && !now.Before(ind.ValidUntil)) {
				continue
			}
			// An indicator that changed during the walk comes again at
			// its new seq: screened and counted once.
			if seen[ind.ID] {
				continue
			}
			seen[ind.ID] = true
			rep.Scanned++
			refused, rule, reason := screenStored(rs.set, ind)
			if rule == "" {
				continue
			}
			f, err := rs.finding(ctx, ind, rule, reason)
			if err != nil {
				return rep, err
			}
			if !refused {
				rep.Flagged = append(rep.Flagged, f)
				continue
			}
			if rs.revoke && (!f.Overridden || rs.inclOverridden) {
				if err := rs.revokeOne(ctx, &f, now); err != nil {
					return rep, fmt.Errorf("%w (%d revoked before it, each audited; run again to go on)", err, rep.Revoked)
				}
				rep.Revoked++
			}
			rep.Refused = append(rep.Refused, f)
		}
	}
}

// screenStored applies today's rules to a stored indicator: its value must
// still be in the canonical form of its type (a value the rules now refuse
// fails, whatever else), and then no refusing warninglist may hit it.
// rule is "" when nothing refuses or flags it; refused says which.
func screenStored(set *warninglist.Set, ind *model.Indicator) (refused bool, rule, reason string) {
	t, v, err := indicator.CanonicalizeAs(ind.Type, ind.Value)
	if err == nil && len(v) > indicator.MaxStoredLen {
		err = fmt.Errorf("%s %q is longer than %d bytes once canonicalised", t, clipValue(v), indicator.MaxStoredLen)
	}
	if err != nil {
		return true, ruleCanonical, err.Error()
	}
	// Screened in today's canonical form, as a submission of it would be;
	// a stored form that differs is screened as the value it stands for.
	hits, refusal := set.Screen(t, v)
	switch {
	case refusal != nil:
		what := "the value"
		if refusal.InPattern != "" {
			what = fmt.Sprintf("the pattern's %s %q", refusal.InPattern, clipValue(refusal.Value))
		}
		return true, rulePrefixList + refusal.Hit.List, fmt.Sprintf("%s is on the warninglist %q (entry %q), which refuses it",
			what, refusal.Hit.List, refusal.Hit.Entry)
	case len(hits) > 0:
		var lists []string
		for _, h := range hits {
			if q := strconv.Quote(h.List); !slices.Contains(lists, q) {
				lists = append(lists, q)
			}
		}
		return false, rulePrefixList + hits[0].List, fmt.Sprintf("on the flagging warninglist %s (entry %q)",
			strings.Join(lists, ", "), hits[0].Entry)
	}
	return false, "", ""
}

// finding describes ind for the report. It counts as overridden when the
// coordinator stored it over a refusing warninglist: the override tag on
// an indicator whose source is a coordinator (only a coordinator may
// override, and its override is stored as its own; the tag on another
// source's indicator was set by that source and proves nothing). A
// canonical-form refusal is never overridden: no override stores such a
// value today.
func (rs *rescreener) finding(ctx context.Context, ind *model.Indicator, rule, reason string) (rescreenFinding, error) {
	src, err := rs.org(ctx, ind.Source)
	if err != nil {
		return rescreenFinding{}, err
	}
	f := rescreenFinding{ID: ind.ID, Type: ind.Type, Value: ind.Value, Source: src.Name, TLP: ind.TLP,
		Rule: rule, Reason: reason, Quarantined: ind.Quarantined}
	if strings.HasPrefix(rule, rulePrefixList) && src.Kind == policy.Coordinator {
		for _, t := range ind.Tags {
			if strings.EqualFold(t, overrideTag) {
				f.Overridden = true
			}
		}
	}
	return f, nil
}

// org returns the organisation of id, read once; one that is gone is
// shown by its id.
func (rs *rescreener) org(ctx context.Context, id string) (model.Org, error) {
	if o, ok := rs.orgs[id]; ok {
		return o, nil
	}
	o, err := rs.st.Org(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		o = model.Org{ID: id, Name: id}
	case err != nil:
		return o, fmt.Errorf("organisation %q: %w", id, err)
	}
	rs.orgs[id] = o
	return o, nil
}

// revokeOne revokes f's indicator through the store, as the coordinator's
// POST /api/v1/indicators/{id}/revoke does, and audits it naming the rule.
func (rs *rescreener) revokeOne(ctx context.Context, f *rescreenFinding, now time.Time) error {
	if _, err := rs.st.Revoke(ctx, f.ID, now); err != nil {
		return fmt.Errorf("revoke %s: %w", f.ID, err)
	}
	f.Revoked = true
	return adminAction(ctx, rs.st, "indicator.revoke", f.ID,
		fmt.Sprintf("%s %s: refused by today's rules (hdn admin rescreen): %s: %s", f.Type, clipValue(f.Value), f.Rule, f.Reason))
}

// printRescreen prints the report as two tables and a summary line.
func printRescreen(w io.Writer, rep rescreenReport, revoke bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table := func(title string, fs []rescreenFinding, withAction bool) {
		fmt.Fprintf(tw, "%s: %d\n", title, len(fs))
		if len(fs) == 0 {
			fmt.Fprintln(tw)
			return
		}
		head := "ID\tTYPE\tVALUE\tSOURCE\tTLP\t"
		if withAction {
			head += "ACTION\t"
		}
		fmt.Fprintln(tw, head+"REASON")
		for _, f := range fs {
			row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t", f.ID, f.Type, shown(f.Value), shown(f.Source), f.TLP)
			if withAction {
				row += action(f) + "\t"
			}
			fmt.Fprintln(tw, row+escaped(f.Reason))
		}
		fmt.Fprintln(tw)
	}
	table("refused by today's rules", rep.Refused, true)
	table("flagged by a warninglist (kept)", rep.Flagged, false)
	if err := tw.Flush(); err != nil {
		return err
	}
	overridden := 0
	for _, f := range rep.Refused {
		if f.Overridden && !f.Revoked {
			overridden++
		}
	}
	fmt.Fprintf(w, "%d live indicators screened: %d refused, %d flagged; %d revoked", rep.Scanned, len(rep.Refused), len(rep.Flagged), rep.Revoked)
	switch {
	case !revoke && len(rep.Refused) > 0:
		fmt.Fprint(w, " (--revoke revokes the refused ones)")
	case overridden > 0:
		fmt.Fprintf(w, " (%d stored over a warninglist by the coordinator kept: --include-overridden revokes them)", overridden)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// action says what this run did to a refused indicator, or what --revoke
// would do.
func action(f rescreenFinding) string {
	switch {
	case f.Revoked:
		return "revoked"
	case f.Overridden:
		return "kept (coordinator override)"
	default:
		return "to revoke"
	}
}

// shown makes text safe and short for a table cell (escaped, cut).
func shown(s string) string { return clipValue(escaped(s)) }

// escaped shows text with anything that is not a printable character (a
// tab, a control or invisible format character — exactly what some refused
// values hold) escaped, so that a terminal shows what is there.
func escaped(s string) string {
	for _, r := range s {
		if r == '\t' || !unicode.IsPrint(r) || indicator.IsTextControl(r) {
			q := strconv.QuoteToASCII(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// clipValue cuts text to 120 characters.
func clipValue(s string) string {
	const max = 120
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}
