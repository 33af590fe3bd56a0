/*
 * xs_txn: transactions.  xenstored answers a commit that conflicts with
 * EAGAIN; xs_txn_run retries the whole body then.
 */
#include <string.h>

#include "xs_internal.h"

int xs_txn_start(struct xs_client *c, xs_txn_t *t)
{
    char *body = NULL;
    uint32_t len = 0;
    int err = xs_request_str(c, XS_TRANSACTION_START, XS_TXN_NONE, "", &body, &len);
    if (err)
        return err;
    uint64_t id = 0;
    bool ok = len > 0 && len < 12;
    for (uint32_t i = 0; ok && i < len && body[i]; i++) {
        if (body[i] < '0' || body[i] > '9')
            ok = false;
        else
            id = id * 10 + (uint64_t)(body[i] - '0');
    }
    if (!ok || id == 0 || id > UINT32_MAX) {
        GP_ERR(c->plat, "xs: bad transaction id '%.16s'", body);
        xs_free(c, body);
        return GP_EPROTO;
    }
    xs_free(c, body);
    *t = (xs_txn_t)id;
    return 0;
}

int xs_txn_end(struct xs_client *c, xs_txn_t t, bool commit)
{
    return xs_request_str(c, XS_TRANSACTION_END, t, commit ? "T" : "F", NULL, NULL);
}

int xs_txn_run(struct xs_client *c, unsigned tries,
               int (*fn)(struct xs_client *c, xs_txn_t t, void *arg), void *arg)
{
    int err = GP_EAGAIN;
    for (unsigned i = 0; i < tries && err == GP_EAGAIN; i++) {
        xs_txn_t t;
        err = xs_txn_start(c, &t);
        if (err)
            return err;
        int body = fn(c, t, arg);
        if (body) {
            xs_txn_end(c, t, false);
            return body;
        }
        err = xs_txn_end(c, t, true);
    }
    if (err == GP_EAGAIN)
        GP_WARN(c->plat, "xs: transaction still conflicting after %u tries", tries);
    return err;
}
