/* gp_vsnprintf: a small printf for the core (no C library needed). */
#include "gplpv/log.h"

#include <stdint.h>

struct fmt_out {
    char *buf;
    size_t size;
    size_t len;   /* characters that would have been written */
};

static void fmt_putc(struct fmt_out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void fmt_pad(struct fmt_out *o, int count, char c)
{
    while (count-- > 0)
        fmt_putc(o, c);
}

static void fmt_number(struct fmt_out *o, uint64_t v, bool negative, unsigned base,
                       bool upper, int width, bool left, bool zero)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v != 0);
    int total = n + (negative ? 1 : 0);
    if (!left && !zero)
        fmt_pad(o, width - total, ' ');
    if (negative)
        fmt_putc(o, '-');
    if (!left && zero)
        fmt_pad(o, width - total, '0');
    while (n > 0)
        fmt_putc(o, tmp[--n]);
    if (left)
        fmt_pad(o, width - total, ' ');
}

int gp_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct fmt_out o = { buf, size, 0 };

    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            fmt_putc(&o, *f);
            continue;
        }
        f++;
        bool left = false, zero = false;
        for (;; f++) {
            if (*f == '-')
                left = true;
            else if (*f == '0')
                zero = true;
            else
                break;
        }
        int width = 0;
        if (*f == '*') {
            width = va_arg(ap, int);
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                width = width * 10 + (*f++ - '0');
        }
        int prec = -1;
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    prec = prec * 10 + (*f++ - '0');
            }
        }
        int lng = 0;   /* 0 int, 1 long, 2 long long, 3 size_t, -1 short, -2 char */
        for (;; f++) {
            if (*f == 'l')
                lng = lng == 1 ? 2 : 1;
            else if (*f == 'z')
                lng = 3;
            else if (*f == 'h')
                lng = lng == -1 ? -2 : -1;
            else
                break;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            int64_t v;
            if (lng == 1)
                v = va_arg(ap, long);
            else if (lng == 2)
                v = va_arg(ap, long long);
            else if (lng == 3)
                v = (int64_t)va_arg(ap, size_t);
            else
                v = va_arg(ap, int);
            if (lng == -1)
                v = (short)v;
            else if (lng == -2)
                v = (signed char)v;
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            fmt_number(&o, mag, v < 0, 10, false, width, left, zero);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v;
            if (lng == 1)
                v = va_arg(ap, unsigned long);
            else if (lng == 2)
                v = va_arg(ap, unsigned long long);
            else if (lng == 3)
                v = va_arg(ap, size_t);
            else
                v = va_arg(ap, unsigned int);
            if (lng == -1)
                v = (unsigned short)v;
            else if (lng == -2)
                v = (unsigned char)v;
            fmt_number(&o, v, false, *f == 'u' ? 10 : 16, *f == 'X', width, left, zero);
            break;
        }
        case 'p':
            fmt_putc(&o, '0');
            fmt_putc(&o, 'x');
            fmt_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, width, left, zero);
            break;
        case 'c':
            fmt_putc(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = 0;
            while (s[n] && (prec < 0 || n < prec))
                n++;
            if (!left)
                fmt_pad(&o, width - n, ' ');
            for (int i = 0; i < n; i++)
                fmt_putc(&o, s[i]);
            if (left)
                fmt_pad(&o, width - n, ' ');
            break;
        }
        case '%':
            fmt_putc(&o, '%');
            break;
        case '\0':
            f--;   /* lone '%' at the end */
            break;
        default:
            fmt_putc(&o, '%');
            fmt_putc(&o, *f);
            break;
        }
    }
    if (size > 0)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int gp_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = gp_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void gp_log(const struct gp_platform *p, enum gp_log_level lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!p || !p->os || !p->os->log)
        return;
    va_start(ap, fmt);
    gp_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gp_os_log(p, lvl, msg);
}
