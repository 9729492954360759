/*
 * tz.c - TZif v2+ reader and the POSIX TZ footer rule (RFC 8536).
 *
 * A zone is a table of transitions (unix time -> index of a local time
 * type) and, for the times after its last entry, a POSIX TZ string such as
 * "MST7MDT,M3.2.0,M11.1.0".  Everything is parsed once in tz_load(); the
 * lookups only read the immutable struct.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/tz.h"

#define TZ_FILE_MAX (512 * 1024)      /* real zones are under 4 KiB */
#define TZ_TRANS_MAX 20000
#define TZ_NAME_MAX 255
#define T_LIMIT ((int64_t)1 << 40)

/* One date rule of the footer: Jn, n or Mm.w.d, plus the local time of day
 * (v3+ allows -167h..167h) at which it takes effect. */
struct tz_rule {
	char kind;                 /* 'J', 'D' (plain n) or 'M' */
	int n, m, w, d;
	int32_t time;
};

struct tz {
	char *name;
	size_t n;                  /* transitions */
	int64_t *at;               /* ascending */
	uint8_t *idx;              /* type of each transition */
	int32_t *utoff;            /* per type */
	size_t ntypes;
	bool footer;               /* a footer rule applies after at[n-1] */
	bool footer_dst;           /* ... and it has daylight saving time */
	int32_t std_off, dst_off;  /* seconds east of UTC */
	struct tz_rule start, end; /* DST start (std time) and end (DST time) */
};

/* ---- calendar ---------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int tz_days_in_month(int64_t year, int month)
{
	static const int dim[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (month < 1 || month > 12)
		return 0;
	return month == 2 && is_leap(year) ? 29 : dim[month];
}

/* H. Hinnant's days_from_civil / civil_from_days (public domain). */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int *year, int *month, int *day)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (m <= 2));
	*month = m;
	*day = d;
}

static int64_t clamp_t(int64_t t)
{
	return t < -T_LIMIT ? -T_LIMIT : t > T_LIMIT ? T_LIMIT : t;
}

/* ---- the footer rule ----------------------------------------------------- */

/* Unix time at which RULE fires in YEAR, given the offset in effect before. */
static int64_t rule_time(const struct tz_rule *r, int64_t year, int32_t off)
{
	int64_t jan1 = tz_days_from_civil(year, 1, 1), days;

	switch (r->kind) {
	case 'J':      /* 1..365, February 29 never counted */
		days = jan1 + r->n - 1 + (is_leap(year) && r->n >= 60);
		break;
	case 'D':      /* 0..365, zero-based, leap day counted */
		days = jan1 + r->n;
		break;
	default: {     /* day d of week w (5 = last) of month m */
		int64_t first = tz_days_from_civil(year, r->m, 1);
		int wday_first = (int)((first % 7 + 11) % 7);   /* 1970-01-01 was a Thursday */
		int mday = 1 + (r->d - wday_first + 7) % 7 + (r->w - 1) * 7;
		while (mday > tz_days_in_month(year, r->m))
			mday -= 7;
		days = first + mday - 1;
	}
	}
	return days * 86400 + r->time - off;
}

static int64_t std_year(const struct tz *tz, int64_t t)
{
	int y, m, d;
	tz_civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
	return y;
}

static int32_t footer_offset(const struct tz *tz, int64_t t)
{
	if (!tz->footer_dst)
		return tz->std_off;
	int64_t y = std_year(tz, t);
	int64_t s = rule_time(&tz->start, y, tz->std_off);
	int64_t e = rule_time(&tz->end, y, tz->dst_off);
	bool dst = s < e ? (s <= t && t < e) : !(e <= t && t < s);
	return dst ? tz->dst_off : tz->std_off;
}

/* Nearest footer changes of offset around T: *prev <= T < *next
 * (INT64_MIN / INT64_MAX when the rule never changes the offset). */
static void footer_changes(const struct tz *tz, int64_t t, int64_t *prev, int64_t *next)
{
	*prev = INT64_MIN;
	*next = INT64_MAX;
	if (!tz->footer_dst)
		return;
	int64_t y0 = std_year(tz, t);
	/* Rules repeat yearly, so the year before and after hold both. */
	for (int64_t y = y0 - 1; y <= y0 + 1; y++) {
		int64_t c[2] = { rule_time(&tz->start, y, tz->std_off),
		                 rule_time(&tz->end, y, tz->dst_off) };
		for (int i = 0; i < 2; i++) {
			if (footer_offset(tz, c[i]) == footer_offset(tz, c[i] - 1))
				continue;      /* e.g. DST all year: no real change */
			if (c[i] <= t && c[i] > *prev)
				*prev = c[i];
			if (c[i] > t && c[i] < *next)
				*next = c[i];
		}
	}
}

/* ---- lookups ------------------------------------------------------------- */

static bool in_footer(const struct tz *tz, int64_t t)
{
	return tz->footer && (tz->n == 0 || t >= tz->at[tz->n - 1]);
}

/* Index of the last transition <= T, or -1 before the first. */
static ssize_t find_trans(const struct tz *tz, int64_t t)
{
	size_t lo = 0, hi = tz->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ssize_t)lo - 1;
}

int32_t tz_offset(const struct tz *tz, int64_t t)
{
	t = clamp_t(t);
	if (in_footer(tz, t))
		return footer_offset(tz, t);
	ssize_t i = find_trans(tz, t);
	/* RFC 8536: before the first transition, type 0 applies. */
	return tz->utoff[i < 0 ? 0 : tz->idx[i]];
}

void tz_span(const struct tz *tz, int64_t t, struct tz_span *out)
{
	t = clamp_t(t);
	if (in_footer(tz, t)) {
		int64_t prev, next;
		footer_changes(tz, t, &prev, &next);
		if (tz->n > 0 && prev < tz->at[tz->n - 1])
			prev = tz->at[tz->n - 1];
		out->start = prev;
		out->end = next;
	} else {
		ssize_t i = find_trans(tz, t);
		out->start = i < 0 ? INT64_MIN : tz->at[i];
		/* Past the last transition without a footer nothing changes. */
		out->end = (size_t)(i + 1) < tz->n ? tz->at[i + 1] : INT64_MAX;
	}
	out->utoff = tz_offset(tz, t);
	out->prev_utoff = out->start == INT64_MIN ? out->utoff : tz_offset(tz, out->start - 1);
}

void tz_civil_wall(int64_t wall, struct civil *out)
{
	int64_t days = floor_div(wall, 86400);
	int64_t sod = wall - days * 86400;

	tz_civil_from_days(days, &out->year, &out->month, &out->day);
	out->hour = (int)(sod / 3600);
	out->minute = (int)(sod / 60 % 60);
	out->second = (int)(sod % 60);
	out->wday = (int)((days % 7 + 11) % 7);      /* 1970-01-01 was a Thursday */
	out->utc_offset = 0;
}

void tz_civil(const struct tz *tz, int64_t t, struct civil *out)
{
	t = clamp_t(t);
	int32_t off = tz_offset(tz, t);
	tz_civil_wall(t + off, out);
	out->utc_offset = off;
}

void tz_date(const struct tz *tz, int64_t t, char out[11])
{
	struct civil c;
	tz_civil(tz, t, &c);
	/* Years outside 0..9999 cannot be written in ten bytes; they are far
	 * outside anything a schedule produces. */
	int y = c.year < 0 ? 0 : c.year > 9999 ? 9999 : c.year;
	const int v[3] = { y, c.month, c.day }, width[3] = { 4, 2, 2 };
	char *p = out;
	for (int f = 0; f < 3; f++) {
		for (int k = width[f] - 1, x = v[f]; k >= 0; k--, x /= 10)
			p[k] = (char)('0' + x % 10);
		p += width[f];
		*p++ = f < 2 ? '-' : '\0';
	}
}

const char *tz_name(const struct tz *tz)
{
	return tz->name;
}

/* ---- POSIX TZ strings ----------------------------------------------------- */

/* "MST", "<+0330>": letters, or anything alphanumeric/+/- between <>. */
static int parse_abbr(const char **s)
{
	const char *p = *s;
	if (*p == '<') {
		p++;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-')
			p++;
		if (*p != '>' || p - *s < 4)
			return -EINVAL;
		*s = p + 1;
		return 0;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	if (p - *s < 3)
		return -EINVAL;
	*s = p;
	return 0;
}

static int parse_num(const char **s, int max_digits, int *v)
{
	int n = 0, x = 0;
	while (**s >= '0' && **s <= '9' && n < max_digits) {
		x = x * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n == 0 || (**s >= '0' && **s <= '9'))
		return -EINVAL;
	*v = x;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= MAX_H; seconds, sign applied. */
static int parse_hms(const char **s, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, sec = 0;
	if (**s == '+' || **s == '-')
		sign = *(*s)++ == '-' ? -1 : 1;
	if (parse_num(s, 3, &h) < 0 || h > max_h)
		return -EINVAL;
	if (**s == ':') {
		(*s)++;
		if (parse_num(s, 2, &m) < 0 || m > 59)
			return -EINVAL;
		if (**s == ':') {
			(*s)++;
			if (parse_num(s, 2, &sec) < 0 || sec > 59)
				return -EINVAL;
		}
	}
	*out = sign * (h * 3600 + m * 60 + sec);
	return 0;
}

static int parse_rule(const char **s, struct tz_rule *r)
{
	const char *p = *s;
	int rc;

	memset(r, 0, sizeof *r);
	if (*p == 'J') {
		p++;
		r->kind = 'J';
		rc = parse_num(&p, 3, &r->n);
		if (rc < 0 || r->n < 1 || r->n > 365)
			return -EINVAL;
	} else if (*p == 'M') {
		p++;
		r->kind = 'M';
		if (parse_num(&p, 2, &r->m) < 0 || r->m < 1 || r->m > 12 || *p++ != '.' ||
		    parse_num(&p, 1, &r->w) < 0 || r->w < 1 || r->w > 5 || *p++ != '.' ||
		    parse_num(&p, 1, &r->d) < 0 || r->d > 6)
			return -EINVAL;
	} else {
		r->kind = 'D';
		if (parse_num(&p, 3, &r->n) < 0 || r->n > 365)
			return -EINVAL;
	}
	r->time = 2 * 3600;
	if (*p == '/') {
		p++;
		if (parse_hms(&p, 167, &r->time) < 0)
			return -EINVAL;
	}
	*s = p;
	return 0;
}

/* "std offset [dst [offset] [,start[/time],end[/time]]]"; offsets are west
 * of UTC in POSIX, so they are negated into seconds east. */
static int parse_posix(const char *s, struct tz *tz)
{
	int32_t off;

	if (parse_abbr(&s) < 0 || parse_hms(&s, 24, &off) < 0)
		return -EINVAL;
	tz->std_off = -off;
	tz->footer = true;
	if (*s == '\0')
		return 0;
	if (parse_abbr(&s) < 0)
		return -EINVAL;
	tz->footer_dst = true;
	tz->dst_off = tz->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (parse_hms(&s, 24, &off) < 0)
			return -EINVAL;
		tz->dst_off = -off;
	}
	if (*s == '\0') {
		/* No rule: the US rules, as glibc and zic assume. */
		tz->start = (struct tz_rule){ 'M', 0, 3, 2, 0, 7200 };
		tz->end = (struct tz_rule){ 'M', 0, 11, 1, 0, 7200 };
		return 0;
	}
	if (*s++ != ',' || parse_rule(&s, &tz->start) < 0 || *s++ != ',' ||
	    parse_rule(&s, &tz->end) < 0 || *s != '\0')
		return -EINVAL;
	return 0;
}

/* ---- TZif ----------------------------------------------------------------- */

struct cursor {
	const uint8_t *p;
	size_t left;
};

static bool take(struct cursor *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return false;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

struct tzif_hdr {
	char version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_hdr(struct cursor *c, struct tzif_hdr *h)
{
	const uint8_t *p;
	if (!take(c, 44, &p) || memcmp(p, "TZif", 4) != 0)
		return -EINVAL;
	h->version = (char)p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
	    h->timecnt > TZ_TRANS_MAX || h->charcnt > 4096 || h->leapcnt > 4096 ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return -EINVAL;
	return 0;
}

static size_t block_size(const struct tzif_hdr *h, size_t tsize)
{
	return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
	       h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int parse_tzif(const uint8_t *buf, size_t len, struct tz *tz)
{
	struct cursor c = { buf, len };
	struct tzif_hdr h;
	const uint8_t *p;

	/* Skip the 32-bit v1 block; v2+ repeat everything with 64-bit times. */
	if (read_hdr(&c, &h) < 0 || h.version < '2' || !take(&c, block_size(&h, 4), &p) ||
	    read_hdr(&c, &h) < 0 || h.version < '2')
		return -EINVAL;
	if (h.leapcnt != 0)
		return -EINVAL;            /* "right/" zones: not unix time */
	if (!take(&c, block_size(&h, 8), &p))
		return -EINVAL;

	tz->n = h.timecnt;
	tz->ntypes = h.typecnt;
	tz->at = calloc(h.timecnt + 1, sizeof *tz->at);
	tz->idx = calloc(h.timecnt + 1, 1);
	tz->utoff = calloc(h.typecnt, sizeof *tz->utoff);
	if (!tz->at || !tz->idx || !tz->utoff)
		return -ENOMEM;
	for (size_t i = 0; i < h.timecnt; i++) {
		tz->at[i] = (int64_t)be64(p + 8 * i);
		if (i > 0 && tz->at[i] <= tz->at[i - 1])
			return -EINVAL;
	}
	p += 8 * h.timecnt;
	for (size_t i = 0; i < h.timecnt; i++)
		if ((tz->idx[i] = p[i]) >= h.typecnt)
			return -EINVAL;
	p += h.timecnt;
	for (size_t i = 0; i < h.typecnt; i++, p += 6) {
		int32_t off = (int32_t)be32(p);
		if (off < -89999 || off > 93599 || p[4] > 1 || p[5] >= h.charcnt)
			return -EINVAL;
		tz->utoff[i] = off;
	}

	/* Footer: "\n<POSIX TZ>\n"; an empty string means "no rule". */
	if (!take(&c, 1, &p) || *p != '\n')
		return -EINVAL;
	const uint8_t *nl = memchr(c.p, '\n', c.left);
	if (!nl || nl - c.p > 255)
		return -EINVAL;
	char rule[256];
	memcpy(rule, c.p, (size_t)(nl - c.p));
	rule[nl - c.p] = '\0';
	if (rule[0] && parse_posix(rule, tz) < 0)
		return -EINVAL;
	return 0;
}

/* A relative path of [A-Za-z0-9_+-] components: no "..", no "/" first. */
static bool valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
		return false;
	for (const char *p = name; *p; p++) {
		bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		          (*p >= '0' && *p <= '9') || *p == '_' || *p == '+' ||
		          *p == '-' || (*p == '/' && p[1] != '/');
		if (!ok)
			return false;
	}
	return true;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	*buf = NULL;
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -ENOENT;              /* "America" is a directory, not a zone */
		goto out;
	}
	if (st.st_size > TZ_FILE_MAX) {
		rc = -EINVAL;
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EINVAL;
			goto out;
		}
		got += (size_t)r;
	}
	*len = got;
out:
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return rc;
}

int tz_load(const char *name, struct tz **out)
{
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct tz *tz = NULL;
	int rc;

	*out = NULL;
	if (!name || !valid_name(name))
		return -EINVAL;
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return -EINVAL;
	if ((rc = read_file(path, &buf, &len)) < 0)
		goto out;
	tz = calloc(1, sizeof *tz);
	if (!tz || !(tz->name = strdup(name))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = parse_tzif(buf, len, tz)) < 0)
		goto out;
	*out = tz;
	tz = NULL;
out:
	tz_free(tz);
	free(buf);
	return rc;
}

void tz_free(struct tz *tz)
{
	if (!tz)
		return;
	free(tz->name);
	free(tz->at);
	free(tz->idx);
	free(tz->utoff);
	free(tz);
}
