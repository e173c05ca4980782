package keepalived

import (
	"fmt"
	"math"
	"strings"
)

// keepalived reads numbers with strtoul/strtol and then decides, per keyword,
// whether a number with trailing junk is still acceptable ("ignore_error").
// These helpers reproduce lib/parser.c's read_unsigned_func,
// read_int_func and read_decimal_unsigned_long_func so that vipd accepts
// and rejects exactly what keepalived does, and says why in the same words.

const cWhitespace = " \t\f\n\r\v"

// strtoul parses like C's strtoul(s, &end, 10): leading white space, an
// optional sign, then decimal digits. end is the index after the digits, or
// 0 if there were none. overflow reports a value beyond uint64 (then val is
// MaxUint64). A minus sign negates modulo 2^64, as in C.
func strtoul(s string) (val uint64, end int, overflow bool) {
	i := 0
	for i < len(s) && strings.IndexByte(cWhitespace, s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if !overflow {
			if val > (math.MaxUint64-d)/10 {
				overflow = true
				val = math.MaxUint64
			} else {
				val = val*10 + d
			}
		}
		i++
	}
	if i == start {
		return 0, 0, false
	}
	if neg && !overflow {
		val = -val
	}
	return val, i, overflow
}

// readUnsigned is read_unsigned_func. It returns the value, whether keepalived
// uses it, and the message keepalived logs ("" if none). lenient is the
// keyword's ignore_error: a number with trailing junk whose leading digits
// are in range is then used, with a warning.
func readUnsigned(s string, lo, hi uint64, lenient bool) (uint64, bool, string) {
	off := 0
	for off < len(s) && strings.IndexByte(cWhitespace, s[off]) >= 0 {
		off++
	}
	val, end, overflow := strtoul(s[off:])
	inRange := val >= lo && val <= hi && !overflow
	switch {
	case off < len(s) && s[off] == '-':
		return val, lenient && inRange, fmt.Sprintf("negative number '%s'", s)
	case off+end < len(s):
		return val, lenient && inRange, fmt.Sprintf("invalid number '%s'", s)
	case overflow || val > math.MaxUint32:
		return val, false, fmt.Sprintf("number '%s' outside unsigned integer range", s)
	case !inRange:
		return val, false, fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return val, true, ""
}

// readInt is read_int_func (base 10).
func readInt(s string, lo, hi int64, lenient bool) (int64, bool, string) {
	u, end, overflow := strtoul(s)
	neg := strings.HasPrefix(strings.TrimLeft(s, cWhitespace), "-")
	var val int64
	switch {
	case overflow || (!neg && u > math.MaxInt64) || (neg && -u > 1<<63):
		overflow = true
	case neg:
		val = -int64(-u)
	default:
		val = int64(u)
	}
	inRange := !overflow && val >= lo && val <= hi
	switch {
	case end < len(s):
		return val, lenient && inRange, fmt.Sprintf("invalid number '%s'", s)
	case overflow || val < math.MinInt32 || val > math.MaxInt32:
		return val, false, fmt.Sprintf("number '%s' outside integer range", s)
	case !inRange:
		return val, false, fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return val, true, ""
}

// readDecimal is read_decimal_unsigned_long_func with shift decimal digits:
// "1.25" with shift 6 is 1250000. The result is in units of 10^-shift.
// Extra decimal places are rounded with a warning but still accepted.
func readDecimal(s string, lo, hi uint64, shift int, lenient bool) (uint64, bool, string) {
	if strings.HasPrefix(s, "-") {
		return 0, false, fmt.Sprintf("negative number '%s'", s)
	}
	var warn string
	intPart, frac, hasDP := strings.Cut(s, ".")
	roundUp := false
	if hasDP && len(frac) > shift {
		warn = fmt.Sprintf("number '%s' has too many decimal places", s)
		roundUp = frac[shift] >= '5'
		frac = frac[:shift]
	}
	digits := intPart + frac + strings.Repeat("0", shift-len(frac))
	val, end, overflow := strtoul(digits)
	if roundUp && !overflow {
		val++
	}
	valid := end == len(digits)
	if digits == "" {
		valid = true // strtoull("") leaves *endptr at the terminator
	}
	inRange := !overflow && val >= lo && val <= hi
	switch {
	case !valid:
		return val, lenient && inRange, fmt.Sprintf("invalid number '%s'", s)
	case overflow:
		return val, false, fmt.Sprintf("number '%s' outside unsigned decimal range", s)
	case !inRange:
		return val, false, fmt.Sprintf("number '%s' outside range [%s, %s]", s, fixed(lo, shift), fixed(hi, shift))
	}
	return val, true, warn
}

// fixed renders v (in units of 10^-shift) with shift decimals.
func fixed(v uint64, shift int) string {
	p := uint64(1)
	for range shift {
		p *= 10
	}
	return fmt.Sprintf("%d.%0*d", v/p, shift, v%p)
}

// checkTrueFalse is check_true_false: on/true/yes or off/false/no.
func checkTrueFalse(s string) (bool, bool) {
	switch s {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}
