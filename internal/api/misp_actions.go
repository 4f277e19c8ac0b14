package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// MISPVersion is the MISP version the hub answers to /servers/getVersion:
// the release whose REST API the hub's subset follows. PyMISP reads it as
// numbers, so it carries no suffix; "hdn": true beside it says what
// answers.
const MISPVersion = "2.4.190"

// mispGetVersion is GET /servers/getVersion.
func (s *Server) mispGetVersion(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeMISPJSON(w, http.StatusOK, map[string]any{
		"version":                    MISPVersion,
		"pymisp_recommended_version": MISPVersion,
		"perm_sync":                  false,
		"perm_sighting":              p.Key.Role.CanReportSightings(),
		"perm_galaxy_editor":         false,
		"request_encoding":           []string{},
		"filter_sightings":           false,
		"hdn":                        true,
	})
	return nil
}

// mispGetPyMISPVersion is GET /servers/getPyMISPVersion, which PyMISP asks
// of MISP versions that do not say it in getVersion.
func (s *Server) mispGetPyMISPVersion(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeMISPJSON(w, http.StatusOK, map[string]any{"version": MISPVersion})
	return nil
}

// mispDescribeTypes is GET /attributes/describeTypes.
func (s *Server) mispDescribeTypes(w http.ResponseWriter, r *http.Request, p *Principal) error {
	writeMISPJSON(w, http.StatusOK, misp.DescribeTypes())
	return nil
}

// mispRole is a key's role as MISP describes a role: its permissions.
func mispRole(p *Principal) map[string]any {
	role := p.Key.Role
	submit := role.CanSubmit()
	siteAdmin := role == policy.Admin && p.Org.Kind == policy.Coordinator
	id := map[policy.Role]string{policy.Admin: "2", policy.Analyst: "4", policy.Sensor: "7", policy.ReadOnly: "6"}[role]
	if siteAdmin {
		id = "1"
	}
	if id == "" {
		id = "6"
	}
	return map[string]any{
		"id": id, "name": string(role),
		"perm_add": submit, "perm_modify": submit, "perm_modify_org": submit, "perm_publish": submit,
		"perm_delegate": false, "perm_sync": false, "perm_admin": role == policy.Admin, "perm_audit": role == policy.Admin,
		"perm_auth": false, "perm_site_admin": siteAdmin, "perm_regexp_access": false, "perm_tagger": submit,
		"perm_template": false, "perm_sharing_group": false, "perm_tag_editor": submit,
		"perm_sighting": role.CanReportSightings(), "perm_object_template": false, "perm_publish_zmq": false,
		"perm_publish_kafka": false, "perm_decaying": false, "perm_galaxy_editor": false,
		"default_role": false, "restricted_to_site_admin": false, "enforce_rate_limit": false, "rate_limit_count": "0",
		"memory_limit": "", "max_execution_time": "",
	}
}

// mispUserView is GET /users/view/me: the key as a MISP user, its role and
// its organisation. No secret is in it.
func (s *Server) mispUserView(w http.ResponseWriter, r *http.Request, p *Principal) error {
	id := strings.TrimSuffix(r.PathValue("id"), ".json")
	userID := mispNumericID("key:" + p.Key.ID)
	if id != "me" && id != userID {
		return mispNotFound("Invalid user")
	}
	v := s.newMISPView(r.Context(), p)
	org := v.orgOf(p.Org.ID)
	role := mispRole(p)
	var expiration any
	if !p.Key.ExpiresAt.IsZero() {
		expiration = p.Key.ExpiresAt.UTC().Format(time.DateTime)
	}
	created := strconv.FormatInt(p.Key.Created.Unix(), 10)
	if p.Key.Created.IsZero() {
		created = "0"
	}
	writeMISPJSON(w, http.StatusOK, map[string]any{
		"User": map[string]any{
			"id": userID, "org_id": org.ID, "server_id": "0", "email": p.Key.Name, "autoalert": false,
			"invited_by": "0", "gpgkey": nil, "certif_public": nil, "nids_sid": "0", "termsaccepted": true,
			"newsread": "0", "role_id": role["id"], "change_pw": "0", "contactalert": false, "disabled": false,
			"expiration": expiration, "current_login": "0", "last_login": "0", "force_logout": false,
			"date_created": created, "date_modified": created,
			"hdn_key_id": p.Key.ID,
		},
		"Role":        role,
		"UserSetting": []any{},
		"Organisation": map[string]any{
			"id": org.ID, "name": org.Name, "uuid": org.UUID, "local": true,
			"type": string(p.Org.Kind), "date_created": p.Org.Created.UTC().Format(time.DateTime),
		},
	})
	return nil
}

// mispSightingAdd is POST /sightings/add: a sighting (type "0") or false
// positive ("1") by the caller's organisation of the indicators it may see
// with the given value(s), or of one attribute by uuid or id. MISP answers
// with the sighting saved; so does the hub, for the first indicator.
func (s *Server) mispSightingAdd(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanReportSightings() {
		return mispForbidden("")
	}
	params, err := s.readMISPParams(w, r)
	if err != nil {
		return err
	}
	if inner, ok := params["Sighting"]; ok {
		if params, err = parseMISPParams(inner); err != nil {
			return err
		}
	}
	ctx := r.Context()
	v := s.newMISPView(ctx, p)
	kind := model.Sighted
	typ, _, err := params.str("type")
	if err != nil {
		return err
	}
	switch strings.TrimSpace(typ) {
	case "", "0":
		typ = "0"
	case "1":
		kind = model.FalsePositive
	case "2":
		return mispBad("Could not add the Sighting. Reason: expiration sightings (type 2) are not taken: the source of an indicator sets when it stops being valid")
	default:
		return mispBad("Could not add the Sighting. Reason: type %q is not 0 (sighting) or 1 (false positive)", clip(typ))
	}
	source, _, err := params.str("source")
	if err != nil {
		return err
	}
	at := v.now
	if ts, ok, err := params.str("timestamp"); err != nil {
		return err
	} else if ok && strings.TrimSpace(ts) != "" {
		n, perr := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
		if perr != nil || n < 0 || n > 1<<40 {
			return mispBad("Could not add the Sighting. Reason: timestamp %q is not unix seconds", clip(ts))
		}
		at = time.Unix(n, 0).UTC()
	} else {
		d, dok, _ := params.str("date")
		t, tok, _ := params.str("time")
		if dok && tok {
			parsed, perr := time.Parse("2006-01-02 15:04:05", strings.TrimSpace(d)+" "+strings.TrimSpace(t))
			if perr != nil {
				return mispBad("Could not add the Sighting. Reason: date %q and time %q are not YYYY-MM-DD and HH:MM:SS", clip(d), clip(t))
			}
			at = parsed.UTC()
		}
	}
	if at.After(v.now.Add(time.Hour)) {
		return mispBad("Could not add the Sighting. Reason: the sighting is in the future")
	}

	id := strings.TrimSuffix(r.PathValue("id"), ".json")
	for _, k := range []string{"uuid", "id"} {
		if id != "" {
			break
		}
		if id, _, err = params.str(k); err != nil {
			return err
		}
	}
	var values []string
	if vf, err := params.filter("values"); err != nil {
		return err
	} else if vf != nil {
		values = vf.OR
	}
	if one, ok, err := params.str("value"); err != nil {
		return err
	} else if ok && strings.TrimSpace(one) != "" {
		values = append(values, one)
	}
	if len(values) > maxSightings {
		return mispBad("Could not add the Sighting. Reason: more than %d values", maxSightings)
	}
	var inds []model.Indicator
	switch {
	case strings.TrimSpace(id) != "":
		ind, err := v.findIndicator(strings.TrimSpace(id))
		if err != nil {
			return err
		}
		if ind != nil {
			inds = append(inds, *ind)
		}
	case len(values) > 0:
		seen := map[string]bool{}
		for _, val := range values {
			found, err := v.indicatorsWithValue(val)
			if err != nil {
				return err
			}
			for _, ind := range found {
				if !seen[ind.ID] {
					seen[ind.ID] = true
					inds = append(inds, ind)
				}
			}
			if len(inds) > maxSightings {
				return mispBad("Could not add the Sighting. Reason: the values match more than %d attributes", maxSightings)
			}
		}
	default:
		return mispBad("Could not add the Sighting. Reason: give a value, values, or the uuid or id of an attribute")
	}
	if len(inds) == 0 {
		e := mispNotFound("Could not add the Sighting.")
		e.message = "Could not add the Sighting. Reason: No valid attributes found that match the sighting criteria."
		return e
	}
	hour := at.Truncate(time.Hour)
	out := make([]model.Sighting, len(inds))
	for i := range inds {
		out[i] = model.Sighting{IndicatorID: inds[i].ID, Org: p.Org.ID, Kind: kind, Hour: hour, Count: 1}
	}
	if err := s.sightings.add(ctx, out); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return mispNotFound("Invalid attribute")
		}
		return err
	}
	// A false positive counts towards quarantine as through the native
	// API.
	if kind == model.FalsePositive {
		ids := make([]string, len(inds))
		for i := range inds {
			ids[i] = inds[i].ID
		}
		if _, err := s.reportFalsePositives(ctx, p, ids); err != nil {
			return err
		}
	}
	ref, err := v.eventOf(&inds[0])
	if err != nil {
		return err
	}
	sid := uuid.NewString()
	writeMISPJSON(w, http.StatusOK, map[string]any{"Sighting": map[string]any{
		"id": mispNumericID(sid), "attribute_id": mispNumericID(inds[0].ID), "event_id": ref.id(),
		"org_id": v.orgOf(p.Org.ID).ID, "date_sighting": strconv.FormatInt(at.Unix(), 10), "uuid": sid,
		"source": source, "type": typ, "attribute_uuid": inds[0].ID,
	}})
	return nil
}

// findIndicator finds an indicator the viewer may see, that is not
// revoked, by uuid or by MISP numeric id (which means reading what the
// viewer may see until it is found).
func (v *mispView) findIndicator(id string) (*model.Indicator, error) {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		ind, err := v.s.visibleIndicator(v.ctx, v.p, u.String())
		var ae *Error
		if errors.As(err, &ae) {
			return nil, nil
		}
		if err != nil || ind.Revoked {
			return nil, err
		}
		return &ind, nil
	}
	if _, err := strconv.ParseUint(id, 10, 32); err != nil {
		return nil, mispBad("%q is not the uuid or id of an attribute", clip(id))
	}
	var found *model.Indicator
	err := v.scan(store.Query{}, func(ind *model.Indicator) (bool, error) {
		if mispNumericID(ind.ID) == id {
			cp := *ind
			found = &cp
			return false, nil
		}
		return true, nil
	})
	return found, err
}

// indicatorsWithValue lists the live indicators the viewer may see with a
// value, of whichever type.
func (v *mispView) indicatorsWithValue(val string) ([]model.Indicator, error) {
	forms := valueForms(val)
	seen := map[string]bool{}
	var out []model.Indicator
	for _, f := range forms {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		err := v.scan(store.Query{Value: f}, func(ind *model.Indicator) (bool, error) {
			if ind.Value == f && !slices.ContainsFunc(out, func(o model.Indicator) bool { return o.ID == ind.ID }) {
				out = append(out, *ind)
			}
			return len(out) <= maxSightings, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mispAttachTag is POST /tags/attachTagToObject: the source of an indicator
// or report (or the coordinator) adds a tag. An indicator is submitted
// again with the tag, through the checks of every submission; a tlp: tag
// changes its TLP (and must fit its audience). A report is updated.
func (s *Server) mispAttachTag(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanSubmit() {
		return mispForbidden("")
	}
	params, err := s.readMISPParams(w, r)
	if err != nil {
		return err
	}
	id, _, err := params.str("uuid")
	if err != nil {
		return err
	}
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" {
		return mispBad("Invalid object uuid")
	}
	if u, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return mispBad("Invalid UUID")
	} else {
		id = u.String()
	}
	if local, _, err := params.boolean("local"); err != nil {
		return err
	} else if local {
		return mispBad("Local tags are not kept here: every tag of the hub is shared with whoever may see what it is on")
	}
	tf, err := params.filter("tag")
	if err != nil {
		return err
	}
	if tf == nil || len(tf.OR)+len(tf.AND) == 0 {
		return mispBad("Invalid tag")
	}
	names, err := checkWords("tag", append(tf.OR, tf.AND...), maxTags, maxTagLen, false)
	if err != nil {
		return mispBad("Invalid tag: %s", err.Error())
	}
	for _, n := range names {
		if _, err := strconv.Atoi(n); err == nil {
			return mispBad("Invalid tag: tag ids are not known here; give the tag's name")
		}
		if strings.HasPrefix(strings.ToLower(n), "hdn:") {
			return mispBad("Invalid tag: hdn: tags are set by the hub itself")
		}
	}
	ctx := r.Context()
	v := s.newMISPView(ctx, p)
	const notOwner = "Cannot alter the tags of this data, only the organisation that has created the data (orgc) can modify global tags."
	var objectType, objectID string
	var changed bool
	ind, err := s.visibleIndicator(ctx, p, id)
	var ae *Error
	switch {
	case err == nil:
		if !canCurate(p, ind.Source) {
			return mispForbidden(notOwner)
		}
		objectType, objectID = "Attribute", mispNumericID(ind.ID)
		if changed, err = s.tagIndicator(r, p, &ind, names); err != nil {
			return err
		}
	case errors.As(err, &ae):
		rep, err := v.fullReport(id)
		if err != nil {
			return err
		}
		if rep == nil {
			if ref, err := v.lookupEvent(id); err != nil {
				return err
			} else if ref != nil {
				return mispBad("This event shows the indicators shared without a report; tag its attributes")
			}
			return mispNotFound("Invalid Target.")
		}
		if !canCurate(p, rep.Source) {
			return mispForbidden(notOwner)
		}
		objectType, objectID = "Event", mispNumericID(rep.ID)
		if changed, err = s.tagReport(r, p, rep, names); err != nil {
			return err
		}
	default:
		return err
	}
	var msg string
	switch {
	case !changed && len(names) == 1:
		msg = fmt.Sprintf("%s already has the requested tag attached, no changes had to be made for tag %s.", objectType, names[0])
	case len(names) == 1:
		msg = fmt.Sprintf("Global tag %s(%s) successfully attached to %s(%s).", names[0], mispNumericID("tag:"+names[0]), objectType, objectID)
	default:
		msg = fmt.Sprintf("Successfully attached %d tags to %s (%s)", len(names), objectType, objectID)
	}
	writeMISPJSON(w, http.StatusOK, map[string]any{
		"saved": true, "success": true, "check_publish": true,
		"name": msg, "message": msg, "url": "/tags/attachTagToObject",
	})
	return nil
}

// tlpOfTag reads a tlp: tag: the level, and whether the tag is one.
func tlpOfTag(name string) (policy.TLP, bool, error) {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(name)), "tlp:")
	if !ok {
		return "", false, nil
	}
	if rest == "white" {
		rest = "clear"
	}
	t, err := policy.ParseTLP(rest)
	return t, true, err
}

// tagIndicator submits an indicator again with tags added. It says whether
// anything changed.
func (s *Server) tagIndicator(r *http.Request, p *Principal, ind *model.Indicator, names []string) (bool, error) {
	ctx := r.Context()
	// Tagging stores the indicator again, which would make a revoked one
	// match everywhere again.
	if ind.Revoked {
		return false, mispBad("The tag could not be attached: the attribute is revoked; its source may submit it again")
	}
	conf := ind.Confidence
	it := SubmitItem{
		Type: string(ind.Type), Value: ind.Value, TLP: string(ind.TLP), Labels: ind.Labels, Description: ind.Description,
		Confidence: &conf, Tags: slices.Clone(ind.Tags), Anonymous: ind.Anonymous,
	}
	switch ind.Audience.Kind {
	case policy.Group:
		it.Audience = &AudienceJSON{Group: ind.Audience.Group}
	case policy.Orgs:
		it.Audience = &AudienceJSON{Orgs: ind.Audience.Orgs}
	default:
		it.Audience = &AudienceJSON{Network: true}
	}
	if !ind.ValidFrom.IsZero() {
		it.ValidFrom = ind.ValidFrom.UTC().Format(time.RFC3339Nano)
	}
	if !ind.ValidUntil.IsZero() {
		it.ValidUntil = ind.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	// What the coordinator stored over a warninglist stays stored when it
	// tags it.
	it.OverrideWarninglists = p.Org.Kind == policy.Coordinator && slices.Contains(ind.Tags, "hdn:warninglist-override")
	changed := false
	for _, n := range names {
		t, isTLP, err := tlpOfTag(n)
		switch {
		case err != nil:
			return false, mispBad("Invalid tag %q: %s", clip(n), err.Error())
		case isTLP:
			if opensTLP(ind.TLP, t) && !sourceSide(p, ind.Source) {
				return false, mispForbidden(fmt.Sprintf("Only the organisation that shared the data may open its sharing: tlp:%s is more open than tlp:%s", t, ind.TLP))
			}
			if t != ind.TLP {
				it.TLP, changed = string(t), true
			}
		case !slices.ContainsFunc(it.Tags, func(x string) bool { return strings.EqualFold(x, n) }):
			it.Tags, changed = append(it.Tags, n), true
		}
	}
	if !changed {
		return false, nil
	}
	now := s.now().UTC()
	sub, _, err := newResolver(s, p).validate(ctx, &it, now)
	if err != nil {
		if isInternal(err) {
			return false, err
		}
		return false, mispBad("The tag could not be attached: %s", err.Error())
	}
	sub.Source, sub.SubmittedBy, sub.Anonymous = ind.Source, ind.SubmittedBy, ind.Anonymous
	sub.ReportID, sub.ID = ind.ReportID, ind.ID
	last, err := s.store(ctx, []model.Submission{sub}, func(int, store.UpsertResult) {})
	if err != nil {
		return false, err
	}
	s.audit(ctx, p, "indicator.tag", ind.ID, strings.Join(names, ", "))
	if s.notify != nil {
		s.notify.Notify(ctx, last)
	}
	return true, nil
}

// tagReport adds tags to a report; a tlp: tag changes its TLP.
func (s *Server) tagReport(r *http.Request, p *Principal, rep *model.Report, names []string) (bool, error) {
	ctx := r.Context()
	changed := false
	for _, n := range names {
		t, isTLP, err := tlpOfTag(n)
		switch {
		case err != nil:
			return false, mispBad("Invalid tag %q: %s", clip(n), err.Error())
		case isTLP:
			if opensTLP(rep.TLP, t) && !sourceSide(p, rep.Source) {
				return false, mispForbidden(fmt.Sprintf("Only the organisation that shared the data may open its sharing: tlp:%s is more open than tlp:%s", t, rep.TLP))
			}
			if t != rep.TLP {
				rep.TLP, changed = t, true
			}
		case !slices.ContainsFunc(rep.Tags, func(x string) bool { return strings.EqualFold(x, n) }):
			if len(rep.Tags) >= maxTags {
				return false, mispBad("The tag could not be attached: the event has %d tags, at most %d allowed", len(rep.Tags), maxTags)
			}
			rep.Tags, changed = append(rep.Tags, n), true
		}
	}
	if !changed {
		return false, nil
	}
	if err := policy.CheckAudience(rep.TLP, rep.Audience); err != nil {
		return false, mispBad("The tag could not be attached: %s", err.Error())
	}
	rep.Modified = s.now().UTC()
	if _, err := s.st.UpdateReport(ctx, *rep); err != nil {
		return false, err
	}
	s.audit(ctx, p, "report.tag", rep.ID, strings.Join(names, ", "))
	return true, nil
}
