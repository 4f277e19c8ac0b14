package misp

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/policy"
)

// Limits of the hub's API, which imports keep to: what is over is cut and
// reported as a Problem, never a reason to refuse the event.
const (
	MaxLabels         = 32
	MaxLabelLen       = 64
	MaxTags           = 64
	MaxTagLen         = 128
	MaxTitleLen       = 512
	MaxNarrativeLen   = 64 << 10
	MaxNameLen        = 256 // threat actor, campaign
	MaxDescriptionLen = 8192
	MaxContextLen     = 64 << 10 // a context attribute's value
)

// DefaultConfidence is the confidence of an imported indicator without a
// misp:confidence-level tag: the hub's default.
const DefaultConfidence = 50

// machineTag splits a MISP machine tag: `ns:predicate="value"`,
// `ns:predicate` or `ns:predicate=value`. ok is false for a plain tag.
func machineTag(name string) (ns, pred, value string, ok bool) {
	ns, rest, ok := strings.Cut(name, ":")
	if !ok || ns == "" || strings.ContainsAny(ns, " =\"") {
		return "", "", "", false
	}
	pred, value, _ = strings.Cut(rest, "=")
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		if v, err := strconv.Unquote(value); err == nil {
			value = v
		} else {
			value = value[1 : len(value)-1]
		}
	}
	return strings.ToLower(ns), pred, value, true
}

// tlpTag reads a "tlp:" tag. isTLP is false for other tags; ok is false for
// a tlp: tag that names no TLP 2.0 level (tlp:unclear, tlp:ex:chr).
func tlpTag(name string) (t policy.TLP, isTLP, ok bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "tlp:") {
		return "", false, false
	}
	t, err := policy.ParseTLP(n)
	return t, true, err == nil
}

// tlpRank orders the levels from most open (0) to most restricted.
func tlpRank(t policy.TLP) int { return slices.Index(policy.TLPs, t) }

// stricter returns the more restricted of two levels; "" counts as absent.
func stricter(a, b policy.TLP) policy.TLP {
	if a == "" || b != "" && tlpRank(b) > tlpRank(a) {
		return b
	}
	return a
}

// tlpColours are the colours of MISP's tlp taxonomy.
var tlpColours = map[policy.TLP]string{
	policy.Clear: "#ffffff", policy.Green: "#339900", policy.Amber: "#ffc000",
	policy.AmberStrict: "#ffc000", policy.Red: "#cc0033",
}

// tlpTagOf is the tag ExportEvent writes for a level.
func tlpTagOf(t policy.TLP) Tag {
	return Tag{Name: "tlp:" + string(t), Colour: tlpColours[t], Exportable: true}
}

// threatWords maps tag words to the hub's threat labels. Keys are lower
// case, as are the labels.
var threatWords = map[string]string{
	"malware": "malware", "trojan": "malware", "virus": "malware", "worm": "malware",
	"spyware": "malware", "keylogger": "malware", "dropper": "malware", "loader": "malware",
	"rootkit": "malware", "webshell": "malware", "banker": "malware",
	"phishing":   "phishing",
	"ransomware": "ransomware",
	"espionage":  "espionage", "apt": "espionage", "cyber-espionage": "espionage",
	"c2": "c2", "c&c": "c2", "cnc": "c2", "c2server": "c2", "c2-server": "c2", "c2 server": "c2",
	"command and control": "c2", "command-and-control": "c2",
	"botnet": "botnet", "botnet-drone": "botnet",
	"scam": "scam", "spam": "spam",
	"stealer": "stealer", "infostealer": "stealer",
	"rat":      "rat",
	"backdoor": "backdoor",
	"exploit":  "exploit", "exploit-kit": "exploit",
	"cryptomining": "cryptomining", "cryptominer": "cryptomining", "coinminer": "cryptomining", "miner": "cryptomining",
	"ddos":  "ddos",
	"fraud": "fraud",
}

// labelTaxonomies are the taxonomies whose values (or, without a value,
// predicates) name threat categories: circl:incident-classification,
// ecsirt:malicious-code, rsit:…, malware_classification:malware-category,
// kill-chain:"Command and Control".
var labelTaxonomies = map[string]bool{
	"circl": true, "ecsirt": true, "rsit": true, "malware_classification": true, "kill-chain": true,
}

// galaxyLabels maps misp-galaxy clusters to labels by the galaxy's name.
var galaxyLabels = map[string]string{
	"ransomware": "ransomware", "rat": "rat", "botnet": "botnet", "stealer": "stealer",
	"backdoor": "backdoor", "banker": "malware", "malpedia": "malware", "exploit-kit": "exploit",
}

// label returns the threat label a tag names, if any.
func label(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(name), "#")))
	if l, ok := threatWords[n]; ok {
		return l, true
	}
	ns, pred, value, ok := machineTag(n)
	if !ok {
		return "", false
	}
	switch {
	case ns == "misp-galaxy":
		l, ok := galaxyLabels[pred]
		return l, ok
	case labelTaxonomies[ns]:
		w := value
		if w == "" {
			w = pred
		}
		l, ok := threatWords[w]
		return l, ok
	}
	return "", false
}

// confidenceLevels are the values of MISP's misp:confidence-level.
var confidenceLevels = []struct {
	name  string
	value int
}{
	{"completely-confident", 100},
	{"usually-confident", 75},
	{"fairly-confident", 50},
	{"rarely-confident", 25},
	{"unconfident", 0},
}

// confidenceTag reads `misp:confidence-level="…"`. isConf is false for
// other tags; ok is false for a level that sets no number
// (confidence-cannot-be-evaluated, or an unknown one).
func confidenceTag(name string) (c int, isConf, ok bool) {
	ns, pred, value, mt := machineTag(name)
	if !mt || ns != "misp" || pred != "confidence-level" {
		return 0, false, false
	}
	for _, l := range confidenceLevels {
		if strings.EqualFold(value, l.name) {
			return l.value, true, true
		}
	}
	return 0, true, false
}

// confidenceTagOf is the misp:confidence-level tag nearest to c.
func confidenceTagOf(c int) Tag {
	best := confidenceLevels[0]
	for _, l := range confidenceLevels[1:] {
		if abs(c-l.value) < abs(c-best.value) {
			best = l
		}
	}
	return Tag{Name: fmt.Sprintf("misp:confidence-level=%q", best.name), Colour: confidenceColour, Exportable: true}
}

const confidenceColour = "#004646"

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// hdnTag reads an hdn: machine tag, which carries what MISP has no field
// for: hdn:type="ja4", hdn:audience="orgs".
func hdnTag(name string) (pred, value string, ok bool) {
	ns, pred, value, mt := machineTag(name)
	if !mt || ns != "hdn" {
		return "", "", false
	}
	return pred, value, true
}

func hdnTagOf(pred, value string) Tag {
	return Tag{Name: fmt.Sprintf("hdn:%s=%q", pred, value), Colour: "#0b5394", Exportable: true}
}

// plainTag is a tag ExportEvent writes for a label or a hub tag, with a
// colour derived from the name so that it is the same on every export.
func plainTag(name string) Tag {
	if _, isConf, _ := confidenceTag(name); isConf {
		return Tag{Name: name, Colour: confidenceColour, Exportable: true}
	}
	sum := md5.Sum([]byte(name))
	return Tag{Name: name, Colour: "#" + hex.EncodeToString(sum[:3]), Exportable: true}
}

// galaxyTag is the tag of a misp-galaxy cluster.
func galaxyTag(galaxy, value string) Tag {
	return plainTag(fmt.Sprintf("misp-galaxy:%s=%q", galaxy, value))
}

// galaxyValue returns the cluster value of a `misp-galaxy:<galaxy>="…"` tag.
func galaxyValue(name, galaxy string) (string, bool) {
	ns, pred, value, ok := machineTag(name)
	if !ok || ns != "misp-galaxy" || pred != galaxy || value == "" {
		return "", false
	}
	return value, true
}
