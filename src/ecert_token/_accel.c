/*
 * The one compiled accelerator of ecert-token (optional; chosen only in
 * ecert_token/_speedups.py).
 *
 * open_token(body, groups, issuers, now, leeway, max_lifetime)
 *   does stages 2 to 8 of the verification pipeline (token/verify.py,
 *   _Pipeline._open): Base45, COSE_Encrypt0, group key, AEAD, COSE_Sign1 and
 *   claims, issuer key, time, Ed25519 signature; for the one canonical layout
 *   this format writes and for keys of the canonical algorithms (AES-CCM,
 *   Ed25519).  Its answer is
 *     None                       "not mine": the Python stages decide;
 *     an int k                   the pipeline's rejection number k;
 *     (fields, issuer, group)    what the Python stages return.
 *   For every input it answers, the answer is exactly the pipeline's.
 *
 *   body: the text after the prefix; groups / issuers: the trust store's
 *   routes (keys/routes.py): kid -> (key, alg, aad or sig_prefix, decrypt or
 *   public_raw, revoked, not_before, not_after).  A group route's decrypt
 *   answers the plaintext, or None, or raises cryptography's InvalidTag: the
 *   AEAD refused the ciphertext (caught here, without building the exception).
 *
 * b45decode(text) / b45encode(data): Base45, the same contract (None, or
 * exactly what codec/base45.py answers); the tests and fuzzers compare them.
 *
 * The value rules it was compiled with are exported (CONSTANTS, REJECTIONS)
 * and compared with the Python ones at import.
 *
 * libsodium: linked from the system (libsodium-dev), not borrowed from PyNaCl.
 * Safety: every index is checked against its length before it is read; the
 * GIL is released only around the signature check, on copies the function owns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sodium.h>
#include <string.h>

#define ALG_EDDSA (-8)
#define ALG_AES_CCM_16_64_128 10
#define NONCE_BYTES 13
#define TAG_BYTES 8
#define SIGNATURE_BYTES 64
#define PUBLIC_KEY_BYTES 32
#define MAX_KID_BYTES 16
#define CLAIM_SUB 2
#define CLAIM_EXP 4
#define CLAIM_IAT 6
#define CLAIM_CTI 7
#define CLAIM_ECERT (-65537)

#define MAX_BODY_CHARS 600 /* model/limits.py MAX_TEXT_CHARS bounds the body */
#define MAX_DATA_BYTES (MAX_BODY_CHARS / 3 * 2 + 1)
#define MAX_TIME_MAGNITUDE (1LL << 62)

/* The pipeline's numbered rejections (token/verify.py _REJECTIONS), in order. */
enum {
    NOT_BASE45, UNKNOWN_GROUP, ALG_MISMATCH, NONCE_LENGTH, GROUP_REVOKED,
    DECRYPTION_FAILED, UNKNOWN_ISSUER, ISSUER_REVOKED, LIFETIME_TOO_LONG,
    NOT_YET_VALID, EXPIRED, ISSUER_WINDOW, GROUP_WINDOW, BAD_SIGNATURE,
    REJECTION_COUNT
};
static const char *const REJECTION_TEXT[REJECTION_COUNT][2] = {
    {"malformed", "not Base45"},
    {"unknown_key", "no such group key"},
    {"malformed", "algorithm does not match the key"},
    {"malformed", "wrong nonce length"},
    {"key_revoked", "group key revoked"},
    {"decryption_failed", NULL},
    {"unknown_key", "no such issuer key"},
    {"key_revoked", "issuer key revoked"},
    {"lifetime_too_long", NULL},
    {"not_yet_valid", NULL},
    {"expired", NULL},
    {"key_not_valid", "issued outside the key's window"},
    {"key_not_valid", "issued outside the group key's window"},
    {"bad_signature", NULL},
};

/* Route tuple items (keys/routes.py). */
enum { R_KEY, R_ALG, R_BYTES, R_OPEN_OR_PUBLIC, R_REVOKED, R_NOT_BEFORE, R_NOT_AFTER,
       ROUTE_SIZE };

static PyObject *INVALID_TAG; /* cryptography.exceptions.InvalidTag */

static const char ALPHABET[46] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
static unsigned char DIGITS[256]; /* character -> value, 0xFF if not Base45 */

/* --- Base45 ------------------------------------------------------------ */

/* Decode n ASCII characters into out (room for n / 3 * 2 + 1 bytes); the
 * decoded length, or -1 if the text is not valid Base45. */
static Py_ssize_t
b45_decode_into(const unsigned char *s, Py_ssize_t n, unsigned char *out)
{
    const Py_ssize_t groups = n / 3;
    const Py_ssize_t rest = n % 3;
    if (rest == 1) {
        return -1;
    }
    for (Py_ssize_t g = 0; g < groups; g++) {
        const unsigned a = DIGITS[s[3 * g]];
        const unsigned b = DIGITS[s[3 * g + 1]];
        const unsigned c = DIGITS[s[3 * g + 2]];
        const unsigned v = a + 45 * b + 2025 * c;
        if (a > 44 || b > 44 || c > 44 || v > 0xFFFF) {
            return -1;
        }
        out[2 * g] = (unsigned char)(v >> 8);
        out[2 * g + 1] = (unsigned char)(v & 0xFF);
    }
    if (rest == 2) {
        const unsigned a = DIGITS[s[3 * groups]];
        const unsigned b = DIGITS[s[3 * groups + 1]];
        const unsigned v = a + 45 * b;
        if (a > 44 || b > 44 || v > 0xFF) {
            return -1;
        }
        out[2 * groups] = (unsigned char)v;
        return 2 * groups + 1;
    }
    return 2 * groups;
}

static PyObject *
b45decode(PyObject *module, PyObject *text)
{
    (void)module;
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NONE;
    }
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n / 3 * 2 + 1);
    if (out == NULL) {
        return NULL;
    }
    const Py_ssize_t size =
        b45_decode_into(PyUnicode_1BYTE_DATA(text), n, (unsigned char *)PyBytes_AS_STRING(out));
    if (size < 0) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    if (_PyBytes_Resize(&out, size) < 0) {
        return NULL;
    }
    return out;
}

static PyObject *
b45encode(PyObject *module, PyObject *data)
{
    (void)module;
    if (!PyBytes_CheckExact(data)) {
        Py_RETURN_NONE;
    }
    const Py_ssize_t n = PyBytes_GET_SIZE(data);
    const Py_ssize_t groups = n / 2;
    if (groups > (PY_SSIZE_T_MAX - 2) / 3) {
        return PyErr_NoMemory();
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(data);
    PyObject *out = PyUnicode_New(3 * groups + (n % 2 ? 2 : 0), 127);
    if (out == NULL) {
        return NULL;
    }
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t g = 0; g < groups; g++) {
        const unsigned v = ((unsigned)s[2 * g] << 8) | s[2 * g + 1];
        o[3 * g] = (Py_UCS1)ALPHABET[v % 45];
        o[3 * g + 1] = (Py_UCS1)ALPHABET[(v / 45) % 45];
        o[3 * g + 2] = (Py_UCS1)ALPHABET[v / 2025];
    }
    if (n % 2) {
        const unsigned v = s[n - 1];
        o[3 * groups] = (Py_UCS1)ALPHABET[v % 45];
        o[3 * groups + 1] = (Py_UCS1)ALPHABET[v / 45];
    }
    return out;
}

/* --- canonical CBOR pieces --------------------------------------------- */

static unsigned long
be32(const unsigned char *p)
{
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16)
           | ((unsigned long)p[2] << 8) | (unsigned long)p[3];
}

/* A definite string of major type `major` (0x40 bytes, 0x60 text) whose
 * heading is at p[i], with the shortest heading for its length (as the
 * deterministic encoder writes it) and lying within n bytes: 1 and its span,
 * else 0. */
static int
string_span(const unsigned char *p, Py_ssize_t n, Py_ssize_t i, unsigned major,
            Py_ssize_t *start, Py_ssize_t *end)
{
    if (i >= n || p[i] < major || p[i] > major + 25) {
        return 0;
    }
    const unsigned h = p[i] - major;
    if (h <= 23) {
        *start = i + 1;
        *end = i + 1 + h;
    } else if (h == 24 && i + 1 < n && p[i + 1] >= 24) {
        *start = i + 2;
        *end = i + 2 + p[i + 1];
    } else if (h == 25 && i + 2 < n && p[i + 1] != 0) {
        *start = i + 3;
        *end = i + 3 + (((Py_ssize_t)p[i + 1] << 8) | p[i + 2]);
    } else {
        return 0;
    }
    return *end <= n;
}

/* A protected header {1: alg, 4: kid} as the deterministic encoder writes it,
 * in p[0..size) (the bytes inside its byte-string heading), with an alg of one
 * byte: 1, alg and kid; else 0. */
static int
protected_fields(const unsigned char *p, Py_ssize_t size, long *alg,
                 const unsigned char **kid, Py_ssize_t *kid_size)
{
    if (size < 6 || p[0] != 0xA2 || p[1] != 0x01 || p[3] != 0x04
        || p[4] < 0x41 || p[4] > 0x40 + MAX_KID_BYTES || size != 5 + (p[4] - 0x40)) {
        return 0;
    }
    if (p[2] <= 0x17) {
        *alg = p[2];
    } else if (p[2] >= 0x20 && p[2] <= 0x37) {
        *alg = -1 - (long)(p[2] - 0x20);
    } else {
        return 0;
    }
    *kid = p + 5;
    *kid_size = size - 5;
    return 1;
}

/* Bytes as str (UTF-8, strict); NULL with no error set if they are not UTF-8. */
static PyObject *
utf8(const unsigned char *s, Py_ssize_t size)
{
    PyObject *text = PyUnicode_DecodeUTF8((const char *)s, size, "strict");
    if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return text;
}

/* The claims fields tuple of codec/cwt.py (ClaimsFields) read from the
 * canonical claims layout in p[0..n); NULL with no error set for "not this
 * layout", or NULL with an error set.  *exp and *iat receive the times. */
static PyObject *
claims_fields(const unsigned char *p, Py_ssize_t n, long long *exp_out, long long *iat_out)
{
    Py_ssize_t sub_start, i;
    if (n < 3 || p[0] != 0xA5 || p[1] != CLAIM_SUB
        || !string_span(p, n, 2, 0x60, &sub_start, &i)) {
        return NULL;
    }
    if (i + 14 > n) {
        return NULL;
    }
    const unsigned char *t = p + i;
    const unsigned long exp = be32(t + 2), iat = be32(t + 8);
    if (t[0] != CLAIM_EXP || t[1] != 0x1A || exp < 0x10000 || t[6] != CLAIM_IAT
        || t[7] != 0x1A || iat < 0x10000 || t[12] != CLAIM_CTI || t[13] < 0x40
        || t[13] > 0x57) {
        return NULL;
    }
    const Py_ssize_t cti_start = i + 14;
    const Py_ssize_t j = cti_start + (t[13] - 0x40); /* the e-certificate claim */
    if (j + 18 > n) {
        return NULL;
    }
    const unsigned char *e = p + j;
    /* -65537 is major type 1 with a 4-byte argument 65536: 3a 00 01 00 00. */
    const unsigned long region = be32(e + 7);
    const unsigned ins = ((unsigned)e[12] << 8) | e[13];
    const unsigned bus = ((unsigned)e[15] << 8) | e[16];
    if (e[0] != 0x3A || be32(e + 1) != (unsigned long)(-1 - CLAIM_ECERT)
        || (e[5] != 0x86 && e[5] != 0x87) || e[6] != 0x1A || region < 0x10000
        || e[11] != 0x19 || ins < 0x100 || e[14] != 0x19 || bus < 0x100 || e[17] > 0x17) {
        return NULL;
    }
    Py_ssize_t name_start, name_end;
    if (!string_span(p, n, j + 18, 0x60, &name_start, &name_end) || name_end >= n) {
        return NULL;
    }
    const unsigned subject = p[name_end];
    Py_ssize_t actor_start = 0, actor_end = name_end + 1;
    if (e[5] == 0x87 && !string_span(p, n, name_end + 1, 0x60, &actor_start, &actor_end)) {
        return NULL;
    }
    if (actor_end != n || subject > 0x17) {
        return NULL;
    }
    PyObject *sub = utf8(p + sub_start, i - sub_start);
    PyObject *name = sub ? utf8(p + name_start, name_end - name_start) : NULL;
    PyObject *actor = NULL;
    if (name != NULL) {
        if (e[5] == 0x87) {
            actor = utf8(p + actor_start, actor_end - actor_start);
        } else {
            actor = Py_None;
            Py_INCREF(actor);
        }
    }
    PyObject *cti = actor ? PyBytes_FromStringAndSize((const char *)p + cti_start,
                                                      j - cti_start) : NULL;
    if (cti == NULL) {
        Py_XDECREF(sub);
        Py_XDECREF(name);
        Py_XDECREF(actor);
        return NULL;
    }
    *exp_out = (long long)exp;
    *iat_out = (long long)iat;
    /* "N" steals the references to sub, cti, name and actor. */
    return Py_BuildValue("(NkkNkIIININ)", sub, exp, iat, cti, region, ins, bus,
                         (unsigned)e[17], name, subject, actor);
}

/* --- routes ------------------------------------------------------------ */

/* The route of kid in routes (borrowed), NULL with no error if there is none,
 * NULL with an error on failure (a route that is not a route tuple). */
static PyObject *
find_route(PyObject *routes, const unsigned char *kid, Py_ssize_t kid_size)
{
    PyObject *key = PyBytes_FromStringAndSize((const char *)kid, kid_size);
    if (key == NULL) {
        return NULL;
    }
    PyObject *route = PyDict_GetItemWithError(routes, key);
    Py_DECREF(key);
    if (route != NULL && (!PyTuple_Check(route) || PyTuple_GET_SIZE(route) != ROUTE_SIZE
                          || !PyLong_Check(PyTuple_GET_ITEM(route, R_ALG))
                          || !PyBytes_Check(PyTuple_GET_ITEM(route, R_BYTES)))) {
        PyErr_SetString(PyExc_TypeError, "a route must be a keys.routes tuple");
        return NULL;
    }
    return route;
}

static int
route_int(PyObject *route, int item, long long *value)
{
    *value = PyLong_AsLongLong(PyTuple_GET_ITEM(route, item));
    return !(*value == -1 && PyErr_Occurred());
}

#define REJECT(k) return PyLong_FromLong(k)

static PyObject *
open_token(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *body, *groups, *issuers, *now_obj;
    long long leeway, max_lifetime;
    if (!PyArg_ParseTuple(args, "UO!O!OLL", &body, &PyDict_Type, &groups, &PyDict_Type,
                          &issuers, &now_obj, &leeway, &max_lifetime)) {
        return NULL;
    }
    int overflow = 0;
    const long long now = PyLong_Check(now_obj) ? PyLong_AsLongLongAndOverflow(now_obj, &overflow)
                                                : 0;
    if (!PyLong_Check(now_obj) || overflow || (now == -1 && PyErr_Occurred())
        || now > MAX_TIME_MAGNITUDE || now < -MAX_TIME_MAGNITUDE || leeway < 0
        || leeway > MAX_TIME_MAGNITUDE || max_lifetime < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    const Py_ssize_t chars = PyUnicode_GET_LENGTH(body);
    if (!PyUnicode_IS_ASCII(body) || chars > MAX_BODY_CHARS) {
        Py_RETURN_NONE;
    }

    /* 2. Base45 */
    unsigned char d[MAX_DATA_BYTES];
    const Py_ssize_t m = b45_decode_into(PyUnicode_1BYTE_DATA(body), chars, d);
    if (m < 0) {
        REJECT(NOT_BASE45);
    }

    /* 3. COSE_Encrypt0: d0 83 <protected> a1 05 4d <13-byte IV> <ciphertext> */
    long alg;
    const unsigned char *kid;
    Py_ssize_t kid_size, ct_start, ct_end;
    if (m < 3 || d[0] != 0xD0 || d[1] != 0x83 || d[2] < 0x46 || d[2] > 0x57) {
        Py_RETURN_NONE;
    }
    const Py_ssize_t u = 3 + (d[2] - 0x40); /* the unprotected header */
    if (!protected_fields(d + 3, u - 3, &alg, &kid, &kid_size) || u + 16 > m
        || d[u] != 0xA1 || d[u + 1] != 0x05 || d[u + 2] != 0x40 + NONCE_BYTES
        || !string_span(d, m, u + 16, 0x40, &ct_start, &ct_end) || ct_end != m) {
        Py_RETURN_NONE;
    }

    /* 4. the group key bound to the kid */
    PyObject *group = find_route(groups, kid, kid_size);
    if (group == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        REJECT(UNKNOWN_GROUP);
    }
    long long group_alg, group_low, group_high;
    if (!route_int(group, R_ALG, &group_alg) || !route_int(group, R_NOT_BEFORE, &group_low)
        || !route_int(group, R_NOT_AFTER, &group_high)) {
        return NULL;
    }
    if (group_alg != ALG_AES_CCM_16_64_128) {
        Py_RETURN_NONE; /* another AEAD: not mine */
    }
    if (alg != group_alg) {
        REJECT(ALG_MISMATCH);
    }
    if (PyTuple_GET_ITEM(group, R_REVOKED) == Py_True) {
        REJECT(GROUP_REVOKED);
    }
    if (PyTuple_GET_ITEM(group, R_REVOKED) != Py_False) {
        Py_RETURN_NONE;
    }

    /* 5. AEAD, by the route's decrypt(nonce, ciphertext, aad); a ciphertext
     * shorter than the tag is refused as the key's open() refuses it. */
    if (ct_end - ct_start < TAG_BYTES) {
        REJECT(DECRYPTION_FAILED);
    }
    Py_INCREF(group);
    PyObject *nonce = PyBytes_FromStringAndSize((const char *)d + u + 3, NONCE_BYTES);
    PyObject *ciphertext = nonce ? PyBytes_FromStringAndSize((const char *)d + ct_start,
                                                             ct_end - ct_start) : NULL;
    PyObject *plaintext = NULL;
    if (ciphertext != NULL) {
        plaintext = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(group, R_OPEN_OR_PUBLIC),
                                                 nonce, ciphertext,
                                                 PyTuple_GET_ITEM(group, R_BYTES), NULL);
    }
    Py_XDECREF(nonce);
    Py_XDECREF(ciphertext);
    if (plaintext == NULL) {
        Py_DECREF(group);
        if (PyErr_ExceptionMatches(INVALID_TAG)) {
            PyErr_Clear();
            REJECT(DECRYPTION_FAILED);
        }
        return NULL;
    }
    if (plaintext == Py_None) {
        Py_DECREF(group);
        Py_DECREF(plaintext);
        REJECT(DECRYPTION_FAILED);
    }
    PyObject *result = NULL;
    PyObject *fields = NULL;
    if (!PyBytes_CheckExact(plaintext)) {
        PyErr_SetString(PyExc_TypeError, "an AEAD open() must answer bytes or None");
        goto done;
    }

    /* 6. COSE_Sign1: d2 84 <protected> a0 <payload> 58 40 <signature>; the claims */
    const unsigned char *pt = (const unsigned char *)PyBytes_AS_STRING(plaintext);
    const Py_ssize_t pm = PyBytes_GET_SIZE(plaintext);
    long sign_alg;
    const unsigned char *sign_kid;
    Py_ssize_t sign_kid_size, pay_start, pay_end;
    if (pm < 3 || pt[0] != 0xD2 || pt[1] != 0x84 || pt[2] < 0x46 || pt[2] > 0x57) {
        result = Py_None;
        goto done;
    }
    const Py_ssize_t v = 3 + (pt[2] - 0x40); /* the unprotected header */
    if (!protected_fields(pt + 3, v - 3, &sign_alg, &sign_kid, &sign_kid_size) || v >= pm
        || pt[v] != 0xA0 || !string_span(pt, pm, v + 1, 0x40, &pay_start, &pay_end)
        || pay_end + 2 + SIGNATURE_BYTES != pm || pt[pay_end] != 0x58
        || pt[pay_end + 1] != SIGNATURE_BYTES) {
        result = Py_None;
        goto done;
    }
    long long exp, iat;
    fields = claims_fields(pt + pay_start, pay_end - pay_start, &exp, &iat);
    if (fields == NULL) {
        if (!PyErr_Occurred()) {
            result = Py_None;
        }
        goto done;
    }
    PyObject *issuer = find_route(issuers, sign_kid, sign_kid_size);
    if (issuer == NULL) {
        if (!PyErr_Occurred()) {
            result = PyLong_FromLong(UNKNOWN_ISSUER);
        }
        goto done;
    }
    long long issuer_alg, issuer_low, issuer_high;
    if (!route_int(issuer, R_ALG, &issuer_alg) || !route_int(issuer, R_NOT_BEFORE, &issuer_low)
        || !route_int(issuer, R_NOT_AFTER, &issuer_high)) {
        goto done;
    }
    PyObject *public_raw = PyTuple_GET_ITEM(issuer, R_OPEN_OR_PUBLIC);
    PyObject *revoked = PyTuple_GET_ITEM(issuer, R_REVOKED);
    if (issuer_alg != ALG_EDDSA || !PyBytes_CheckExact(public_raw)
        || PyBytes_GET_SIZE(public_raw) != PUBLIC_KEY_BYTES
        || (revoked != Py_True && revoked != Py_False)) {
        result = Py_None; /* another signature algorithm: not mine */
        goto done;
    }
    if (sign_alg != issuer_alg) {
        result = PyLong_FromLong(ALG_MISMATCH);
        goto done;
    }
    if (revoked == Py_True) {
        result = PyLong_FromLong(ISSUER_REVOKED);
        goto done;
    }

    /* 7. time */
    int rejection = -1;
    if (exp - iat > max_lifetime) {
        rejection = LIFETIME_TOO_LONG;
    } else if (now + leeway < iat) {
        rejection = NOT_YET_VALID;
    } else if (now - leeway >= exp) {
        rejection = EXPIRED;
    } else if (!(issuer_low <= iat && iat <= issuer_high)) {
        rejection = ISSUER_WINDOW;
    } else if (!(group_low <= iat && iat <= group_high)) {
        rejection = GROUP_WINDOW;
    }
    if (rejection >= 0) {
        result = PyLong_FromLong(rejection);
        goto done;
    }

    /* 8. Ed25519 over the Sig_structure: the route's prefix, then the payload
     * with its heading; checked on copies with the GIL released. */
    PyObject *prefix = PyTuple_GET_ITEM(issuer, R_BYTES);
    const Py_ssize_t prefix_size = PyBytes_GET_SIZE(prefix);
    const Py_ssize_t payload_size = pay_end - (v + 1);
    unsigned char message[64 + MAX_DATA_BYTES];
    unsigned char signature[SIGNATURE_BYTES];
    unsigned char public_key[PUBLIC_KEY_BYTES];
    if (prefix_size + payload_size > (Py_ssize_t)sizeof message) {
        result = Py_None;
        goto done;
    }
    memcpy(message, PyBytes_AS_STRING(prefix), (size_t)prefix_size);
    memcpy(message + prefix_size, pt + v + 1, (size_t)payload_size);
    memcpy(signature, pt + pay_end + 2, SIGNATURE_BYTES);
    memcpy(public_key, PyBytes_AS_STRING(public_raw), PUBLIC_KEY_BYTES);
    const unsigned long long message_size = (unsigned long long)(prefix_size + payload_size);
    int valid;
    Py_BEGIN_ALLOW_THREADS
    valid = crypto_sign_verify_detached(signature, message, message_size, public_key) == 0;
    Py_END_ALLOW_THREADS
    if (!valid) {
        result = PyLong_FromLong(BAD_SIGNATURE);
        goto done;
    }
    result = PyTuple_Pack(3, fields, PyTuple_GET_ITEM(issuer, R_KEY),
                          PyTuple_GET_ITEM(group, R_KEY));

done:
    if (result == Py_None) {
        Py_INCREF(result);
    }
    Py_XDECREF(fields);
    Py_DECREF(plaintext);
    Py_DECREF(group);
    return result;
}

/* The minter (_accel_mint.c). */
PyObject *mint_token(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
int mint_module_init(PyObject *module);

static PyMethodDef methods[] = {
    {"open_token", open_token, METH_VARARGS,
     "open_token(body, groups, issuers, now, leeway, max_lifetime) -> None, a rejection "
     "number, or (fields, issuer_key, group_key): stages 2 to 8 of token/verify.py."},
    {"b45decode", b45decode, METH_O,
     "Base45 text -> bytes, or None if the text is not valid Base45."},
    {"b45encode", b45encode, METH_O, "bytes -> Base45 text, or None if not given bytes."},
    {"mint_token", (PyCFunction)(void (*)(void))mint_token, METH_FASTCALL,
     "mint_token(state, claims, nonce) -> the token text, or None: Issuer._seal of "
     "token/mint.py for the canonical layout."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ecert_token._accel",
    "The optional compiled accelerator (chosen in ecert_token._speedups).", -1, methods,
    NULL, NULL, NULL, NULL,
};

static int
add_int(PyObject *dict, const char *name, long value)
{
    PyObject *v = PyLong_FromLong(value);
    if (v == NULL) {
        return -1;
    }
    const int rc = PyDict_SetItemString(dict, name, v);
    Py_DECREF(v);
    return rc;
}

PyMODINIT_FUNC
PyInit__accel(void)
{
    if (sodium_init() < 0) {
        PyErr_SetString(PyExc_ImportError, "libsodium could not be initialised");
        return NULL;
    }
    if (INVALID_TAG == NULL) {
        PyObject *exceptions = PyImport_ImportModule("cryptography.exceptions");
        if (exceptions == NULL) {
            return NULL;
        }
        INVALID_TAG = PyObject_GetAttrString(exceptions, "InvalidTag");
        Py_DECREF(exceptions);
        if (INVALID_TAG == NULL) {
            return NULL;
        }
    }
    memset(DIGITS, 0xFF, sizeof DIGITS);
    for (int i = 0; i < 45; i++) {
        DIGITS[(unsigned char)ALPHABET[i]] = (unsigned char)i;
    }
    PyObject *module = PyModule_Create(&module_def);
    PyObject *constants = PyDict_New();
    PyObject *rejections = PyTuple_New(REJECTION_COUNT);
    if (module == NULL || constants == NULL || rejections == NULL
        || add_int(constants, "ALG_EDDSA", ALG_EDDSA) < 0
        || add_int(constants, "ALG_AES_CCM_16_64_128", ALG_AES_CCM_16_64_128) < 0
        || add_int(constants, "NONCE_BYTES", NONCE_BYTES) < 0
        || add_int(constants, "TAG_BYTES", TAG_BYTES) < 0
        || add_int(constants, "SIGNATURE_BYTES", SIGNATURE_BYTES) < 0
        || add_int(constants, "PUBLIC_KEY_BYTES", PUBLIC_KEY_BYTES) < 0
        || add_int(constants, "MAX_KID_BYTES", MAX_KID_BYTES) < 0
        || add_int(constants, "CLAIM_SUB", CLAIM_SUB) < 0
        || add_int(constants, "CLAIM_EXP", CLAIM_EXP) < 0
        || add_int(constants, "CLAIM_IAT", CLAIM_IAT) < 0
        || add_int(constants, "CLAIM_CTI", CLAIM_CTI) < 0
        || add_int(constants, "CLAIM_ECERT", CLAIM_ECERT) < 0) {
        goto fail;
    }
    for (int k = 0; k < REJECTION_COUNT; k++) {
        PyObject *item = REJECTION_TEXT[k][1]
            ? Py_BuildValue("(ss)", REJECTION_TEXT[k][0], REJECTION_TEXT[k][1])
            : Py_BuildValue("(sO)", REJECTION_TEXT[k][0], Py_None);
        if (item == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(rejections, k, item);
    }
    if (PyModule_AddObject(module, "CONSTANTS", constants) < 0) {
        goto fail;
    }
    constants = NULL;
    if (PyModule_AddObject(module, "REJECTIONS", rejections) < 0) {
        goto fail;
    }
    if (mint_module_init(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;

fail:
    Py_XDECREF(constants);
    Py_XDECREF(rejections);
    Py_XDECREF(module);
    return NULL;
}
