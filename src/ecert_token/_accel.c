/*
 * The one compiled accelerator of ecert-token (optional; chosen only in
 * ecert_token/_speedups.py).
 *
 * open_token(body, groups, issuers, now, leeway, max_lifetime)
 *   does stages 2 to 8 of the verification pipeline (token/verify.py,
 *   _Pipeline._open): Base45, COSE_Encrypt0, group key, AEAD, COSE_Sign1 and
 *   claims, issuer key, time, signature; for the one canonical layout this
 *   format writes and for keys of both suites: AES-CCM-16-64-128, SM4-CCM-16-64-128
 *   and SM4-GCM groups, Ed25519 and SM2 (over SM3) issuers, in any mix.  Its answer is
 *     None                       "not mine": the Python stages decide;
 *     an int k                   the pipeline's rejection number k;
 *     (fields, issuer, group)    what the Python stages return.
 *   For every input it answers, the answer is exactly the pipeline's.
 *
 *   body: the text after the prefix; groups / issuers: the trust store's
 *   routes (keys/routes.py): kid -> (key, alg, aad or sig_prefix, opener or
 *   public, revoked, not_before, not_after).  The algorithm is the route's (the
 *   key's), never the token's.  A group route's opener is a CcmKey of this
 *   module (AES-CCM, SM4-CCM: opened here, no Python call), or a callable
 *   (nonce, ciphertext, aad) answering the plaintext, or None, or raising
 *   cryptography's InvalidTag (caught here).  An issuer route's public item is
 *   Ed25519's 32-byte key (checked with libsodium) or SM2's verify callable
 *   (message, signature) -> bool (no library linked here has SM2).
 *
 * CcmKey(cipher, key, nonce_bytes=13, tag_bytes=8): CCM over AES or SM4 with
 * OpenSSL's libcrypto, the key expanded once; see its section.
 *
 * b45decode(text) / b45encode(data): Base45, the same contract (None, or
 * exactly what codec/base45.py answers); the tests and fuzzers compare them.
 *
 * The value rules it was compiled with are exported (CONSTANTS, REJECTIONS)
 * and compared with the Python ones at import.
 *
 * libsodium and libcrypto: linked from the system (libsodium-dev, libssl-dev),
 * not borrowed from PyNaCl or cryptography (whose OpenSSL is linked into its own
 * module with hidden symbols: no clash in one process).
 * Safety: every index is checked against its length before it is read; the
 * GIL is released only around the Ed25519 check, on copies the function owns;
 * a CcmKey's OpenSSL contexts are only used with the GIL held.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sodium.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define ALG_EDDSA (-8)
#define ALG_AES_CCM_16_64_128 10
#define ALG_SM2_SM3 (-65537LL)
#define ALG_SM4_GCM (-65538LL)
#define ALG_SM4_CCM_16_64_128 (-65539LL)
#define NONCE_BYTES 13 /* AES-CCM-16-64-128 and SM4-CCM-16-64-128 */
#define TAG_BYTES 8
#define GCM_NONCE_BYTES 12 /* SM4-GCM */
#define GCM_TAG_BYTES 16
#define BLOCK 16
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
 * byte (-24 to 23) or a negative one of four argument bytes (the SM suite's
 * private-use ids, -65537 and below): 1, alg and kid; else 0. */
static int
protected_fields(const unsigned char *p, Py_ssize_t size, long long *alg,
                 const unsigned char **kid, Py_ssize_t *kid_size)
{
    Py_ssize_t i; /* the kid label */
    if (size < 6 || p[0] != 0xA2 || p[1] != 0x01) {
        return 0;
    }
    if (p[2] <= 0x17) {
        *alg = p[2];
        i = 3;
    } else if (p[2] >= 0x20 && p[2] <= 0x37) {
        *alg = -1 - (long long)(p[2] - 0x20);
        i = 3;
    } else if (p[2] == 0x3A && size >= 10 && be32(p + 3) >= 0x10000) {
        *alg = -1 - (long long)be32(p + 3);
        i = 7;
    } else {
        return 0;
    }
    if (p[i] != 0x04 || p[i + 1] < 0x41 || p[i + 1] > 0x40 + MAX_KID_BYTES
        || size != i + 2 + (p[i + 1] - 0x40)) {
        return 0;
    }
    *kid = p + i + 2;
    *kid_size = size - i - 2;
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

/* --- CCM over AES or SM4 (OpenSSL's libcrypto) ------------------------- */

/* CCM (NIST SP 800-38C, RFC 3610) over a 128-bit block cipher, as crypto/sm4.py's
 * Ccm builds it: the CBC-MAC of B0 || encoded AAD || padded plaintext, and the key
 * stream S0, S1, ... from the counter blocks A0, A1, ... through ECB.  One object
 * per group key (made once, kept in the key's route), holding two OpenSSL contexts
 * with the expanded key: ECB for the counter blocks, CBC for the MAC.  The CBC
 * context chains from its last output block, which is kept in `last` and XORed
 * into each MAC's first block (E(B0 ^ last ^ last) = E(B0): a zero IV without
 * re-initialising the context).  The contexts are only used with the GIL held,
 * which keeps concurrent callers (verify_many's threads) apart.
 *
 * Called from Python, an object is (nonce, data, aad) -> plaintext, raising
 * cryptography's InvalidTag on any fault (the contract of a group route's open,
 * keys/routes.py); encrypt(nonce, plaintext, aad) -> ciphertext || tag. */
typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ecb;
    EVP_CIPHER_CTX *cbc;
    unsigned char last[BLOCK];
    int nonce_bytes, tag_bytes, length_bytes;
} CcmKey;

static PyTypeObject CcmKeyType;

enum { CCM_STACK = 1024 }; /* bytes of MAC input or key stream kept on the stack */

/* Count (0 for "too long") of whole blocks of the MAC input for these sizes. */
static Py_ssize_t
ccm_mac_blocks(Py_ssize_t text, Py_ssize_t aad)
{
    if (aad > 0xFFFFFFFFLL || text > PY_SSIZE_T_MAX / 4 || aad > PY_SSIZE_T_MAX / 4) {
        return 0;
    }
    const Py_ssize_t head = aad == 0 ? 0 : (aad < 0xFF00 ? 2 : 6);
    return 1 + (head + aad + BLOCK - 1) / BLOCK + (text + BLOCK - 1) / BLOCK;
}

/* The CBC-MAC T (tag_bytes of it into tag) of text under nonce and aad; buf has
 * room for blocks * BLOCK bytes.  0, or -1 with a Python error set. */
static int
ccm_mac(CcmKey *k, const unsigned char *nonce, const unsigned char *text, Py_ssize_t size,
        const unsigned char *aad, Py_ssize_t aad_size, unsigned char *buf, Py_ssize_t blocks,
        unsigned char *tag)
{
    const Py_ssize_t total = blocks * BLOCK;
    memset(buf, 0, (size_t)total);
    buf[0] = (unsigned char)((aad_size ? 64 : 0) | ((k->tag_bytes - 2) / 2) << 3
                             | (k->length_bytes - 1));
    memcpy(buf + 1, nonce, (size_t)k->nonce_bytes);
    for (int i = 0; i < k->length_bytes; i++) {
        buf[BLOCK - 1 - i] = (unsigned char)(((unsigned long long)size >> (8 * i)) & 0xFF);
    }
    Py_ssize_t at = BLOCK;
    if (aad_size) {
        if (aad_size < 0xFF00) {
            buf[at++] = (unsigned char)(aad_size >> 8);
            buf[at++] = (unsigned char)aad_size;
        } else {
            buf[at++] = 0xFF;
            buf[at++] = 0xFE;
            for (int i = 3; i >= 0; i--) {
                buf[at++] = (unsigned char)(((unsigned long long)aad_size >> (8 * i)) & 0xFF);
            }
        }
        memcpy(buf + at, aad, (size_t)aad_size);
        at += aad_size;
        at = (at + BLOCK - 1) / BLOCK * BLOCK;
    }
    if (size) {
        memcpy(buf + at, text, (size_t)size);
    }
    for (int i = 0; i < BLOCK; i++) {
        buf[i] ^= k->last[i];
    }
    int out = 0;
    if (total > INT_MAX || !EVP_EncryptUpdate(k->cbc, buf, &out, buf, (int)total)
        || out != total) {
        /* Start the chain again from a zero IV; nothing is answered from this call. */
        memset(k->last, 0, BLOCK);
        EVP_EncryptInit_ex(k->cbc, NULL, NULL, NULL, k->last);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL CBC failed");
        return -1;
    }
    memcpy(k->last, buf + total - BLOCK, BLOCK);
    memcpy(tag, k->last, (size_t)k->tag_bytes);
    return 0;
}

/* The key stream S0 || S1 ... (count blocks) for nonce into stream.  0, or -1
 * with a Python error set. */
static int
ccm_stream(CcmKey *k, const unsigned char *nonce, Py_ssize_t count, unsigned char *stream)
{
    for (Py_ssize_t b = 0; b < count; b++) {
        unsigned char *a = stream + b * BLOCK;
        a[0] = (unsigned char)(k->length_bytes - 1);
        memcpy(a + 1, nonce, (size_t)k->nonce_bytes);
        for (int i = 0; i < k->length_bytes; i++) {
            a[BLOCK - 1 - i] = (unsigned char)(((unsigned long long)b >> (8 * i)) & 0xFF);
        }
    }
    int out = 0;
    const Py_ssize_t total = count * BLOCK;
    if (total > INT_MAX || !EVP_EncryptUpdate(k->ecb, stream, &out, stream, (int)total)
        || out != total) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL ECB failed");
        return -1;
    }
    return 0;
}

/* Scratch space: the stack buffer if it is large enough, else the heap. */
static unsigned char *
scratch(unsigned char *stack, Py_ssize_t size)
{
    if (size <= CCM_STACK) {
        return stack;
    }
    unsigned char *p = PyMem_Malloc((size_t)size);
    if (p == NULL) {
        PyErr_NoMemory();
    }
    return p;
}

static void
scratch_free(unsigned char *stack, unsigned char *p, Py_ssize_t size)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, (size_t)size);
        if (p != stack) {
            PyMem_Free(p);
        }
    }
}

/* Open data (ciphertext || tag, size >= tag_bytes) under nonce (nonce_bytes long)
 * and aad into out (size - tag_bytes bytes): 1 valid, 0 refused (out zeroed), -1
 * with a Python error set.  The tags are compared in constant time. */
static int
ccm_open(CcmKey *k, const unsigned char *nonce, const unsigned char *data, Py_ssize_t size,
         const unsigned char *aad, Py_ssize_t aad_size, unsigned char *out)
{
    const Py_ssize_t text = size - k->tag_bytes;
    const Py_ssize_t blocks = ccm_mac_blocks(text, aad_size);
    if (text < 0 || blocks == 0
        || (k->length_bytes < 8 && (unsigned long long)text >> (8 * k->length_bytes))) {
        return 0;
    }
    const Py_ssize_t count = (text + BLOCK - 1) / BLOCK + 1;
    unsigned char stack_stream[CCM_STACK], stack_mac[CCM_STACK];
    unsigned char expected[BLOCK], tag[BLOCK];
    unsigned char *stream = scratch(stack_stream, count * BLOCK);
    unsigned char *mac = stream ? scratch(stack_mac, blocks * BLOCK) : NULL;
    int rc = -1;
    if (mac == NULL || ccm_stream(k, nonce, count, stream) < 0) {
        goto end;
    }
    for (Py_ssize_t i = 0; i < text; i++) {
        out[i] = data[i] ^ stream[BLOCK + i];
    }
    for (int i = 0; i < k->tag_bytes; i++) {
        expected[i] = data[text + i] ^ stream[i];
    }
    if (ccm_mac(k, nonce, out, text, aad, aad_size, mac, blocks, tag) < 0) {
        goto end;
    }
    rc = CRYPTO_memcmp(tag, expected, (size_t)k->tag_bytes) == 0;
    if (!rc && text) {
        OPENSSL_cleanse(out, (size_t)text);
    }
end:
    if (rc < 0 && text > 0) {
        OPENSSL_cleanse(out, (size_t)text);
    }
    scratch_free(stack_mac, mac, blocks * BLOCK);
    scratch_free(stack_stream, stream, count * BLOCK);
    return rc;
}

/* Seal text under nonce and aad into out (size + tag_bytes bytes).  0, or -1
 * with a Python error set. */
static int
ccm_seal(CcmKey *k, const unsigned char *nonce, const unsigned char *text, Py_ssize_t size,
         const unsigned char *aad, Py_ssize_t aad_size, unsigned char *out)
{
    const Py_ssize_t blocks = ccm_mac_blocks(size, aad_size);
    if (blocks == 0
        || (k->length_bytes < 8 && (unsigned long long)size >> (8 * k->length_bytes))) {
        PyErr_SetString(PyExc_ValueError, "message too long for this CCM nonce length");
        return -1;
    }
    const Py_ssize_t count = (size + BLOCK - 1) / BLOCK + 1;
    unsigned char stack_stream[CCM_STACK], stack_mac[CCM_STACK], tag[BLOCK];
    unsigned char *stream = scratch(stack_stream, count * BLOCK);
    unsigned char *mac = stream ? scratch(stack_mac, blocks * BLOCK) : NULL;
    int rc = -1;
    if (mac != NULL && ccm_mac(k, nonce, text, size, aad, aad_size, mac, blocks, tag) == 0
        && ccm_stream(k, nonce, count, stream) == 0) {
        for (Py_ssize_t i = 0; i < size; i++) {
            out[i] = text[i] ^ stream[BLOCK + i];
        }
        for (int i = 0; i < k->tag_bytes; i++) {
            out[size + i] = tag[i] ^ stream[i];
        }
        rc = 0;
    }
    scratch_free(stack_mac, mac, blocks * BLOCK);
    scratch_free(stack_stream, stream, count * BLOCK);
    return rc;
}

static PyObject *
CcmKey_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"cipher", "key", "nonce_bytes", "tag_bytes", NULL};
    const char *cipher;
    Py_buffer key;
    int nonce_bytes = NONCE_BYTES, tag_bytes = TAG_BYTES;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sy*|ii", names, &cipher, &key,
                                     &nonce_bytes, &tag_bytes)) {
        return NULL;
    }
    const EVP_CIPHER *ecb = NULL, *cbc = NULL;
#ifndef OPENSSL_NO_SM4 /* an OpenSSL built without SM4: SM4 keys stay with Python's Ccm */
    if (strcmp(cipher, "SM4") == 0 && key.len == 16) {
        ecb = EVP_sm4_ecb();
        cbc = EVP_sm4_cbc();
    } else
#endif
    if (strcmp(cipher, "AES") == 0 && key.len == 16) {
        ecb = EVP_aes_128_ecb();
        cbc = EVP_aes_128_cbc();
    } else if (strcmp(cipher, "AES") == 0 && key.len == 24) {
        ecb = EVP_aes_192_ecb();
        cbc = EVP_aes_192_cbc();
    } else if (strcmp(cipher, "AES") == 0 && key.len == 32) {
        ecb = EVP_aes_256_ecb();
        cbc = EVP_aes_256_cbc();
    }
    if (ecb == NULL || cbc == NULL || nonce_bytes < 7 || nonce_bytes > 13 || tag_bytes < 4
        || tag_bytes > 16 || tag_bytes % 2) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError,
                        "CcmKey takes 'AES' (16, 24 or 32-byte keys) or 'SM4' (16), 7- to "
                        "13-byte nonces and even 4- to 16-byte tags");
        return NULL;
    }
    CcmKey *self = (CcmKey *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyBuffer_Release(&key);
        return NULL;
    }
    self->nonce_bytes = nonce_bytes;
    self->tag_bytes = tag_bytes;
    self->length_bytes = 15 - nonce_bytes;
    memset(self->last, 0, BLOCK);
    self->ecb = EVP_CIPHER_CTX_new();
    self->cbc = EVP_CIPHER_CTX_new();
    const int ok = self->ecb != NULL && self->cbc != NULL
        && EVP_EncryptInit_ex(self->ecb, ecb, NULL, key.buf, NULL)
        && EVP_EncryptInit_ex(self->cbc, cbc, NULL, key.buf, self->last)
        && EVP_CIPHER_CTX_set_padding(self->ecb, 0) && EVP_CIPHER_CTX_set_padding(self->cbc, 0);
    PyBuffer_Release(&key);
    if (!ok) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_ValueError, "OpenSSL refused this cipher or key");
        return NULL;
    }
    return (PyObject *)self;
}

static void
CcmKey_dealloc(CcmKey *self)
{
    EVP_CIPHER_CTX_free(self->ecb); /* frees (and cleanses) the expanded keys */
    EVP_CIPHER_CTX_free(self->cbc);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The three byte arguments (nonce, data, aad) of decrypt and encrypt. */
static int
ccm_args(PyObject *args, PyObject *kwargs, Py_buffer *nonce, Py_buffer *data, Py_buffer *aad)
{
    static char *names[] = {"nonce", "data", "aad", NULL};
    return PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*y*", names, nonce, data, aad) ? 0
                                                                                         : -1;
}

static void
ccm_release(Py_buffer *nonce, Py_buffer *data, Py_buffer *aad)
{
    PyBuffer_Release(nonce);
    PyBuffer_Release(data);
    PyBuffer_Release(aad);
}

static PyObject *
CcmKey_call(CcmKey *self, PyObject *args, PyObject *kwargs)
{
    Py_buffer nonce, data, aad;
    if (ccm_args(args, kwargs, &nonce, &data, &aad) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    int rc = 0;
    if (nonce.len == self->nonce_bytes && data.len >= self->tag_bytes) {
        result = PyBytes_FromStringAndSize(NULL, data.len - self->tag_bytes);
        rc = result == NULL ? -1
            : ccm_open(self, nonce.buf, data.buf, data.len, aad.buf, aad.len,
                       (unsigned char *)PyBytes_AS_STRING(result));
    }
    ccm_release(&nonce, &data, &aad);
    if (rc == 1) {
        return result;
    }
    Py_XDECREF(result);
    if (rc == 0) {
        PyErr_SetNone(INVALID_TAG);
    }
    return NULL;
}

static PyObject *
CcmKey_encrypt(CcmKey *self, PyObject *args, PyObject *kwargs)
{
    Py_buffer nonce, data, aad;
    if (ccm_args(args, kwargs, &nonce, &data, &aad) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    if (nonce.len != self->nonce_bytes) {
        PyErr_SetString(PyExc_ValueError, "wrong CCM nonce length");
    } else if (data.len > PY_SSIZE_T_MAX - BLOCK) {
        PyErr_NoMemory();
    } else {
        result = PyBytes_FromStringAndSize(NULL, data.len + self->tag_bytes);
        if (result != NULL && ccm_seal(self, nonce.buf, data.buf, data.len, aad.buf, aad.len,
                                       (unsigned char *)PyBytes_AS_STRING(result)) < 0) {
            Py_CLEAR(result);
        }
    }
    ccm_release(&nonce, &data, &aad);
    return result;
}

static PyMethodDef CcmKey_methods[] = {
    {"encrypt", (PyCFunction)(void (*)(void))CcmKey_encrypt, METH_VARARGS | METH_KEYWORDS,
     "encrypt(nonce, plaintext, aad) -> ciphertext || tag"},
    {"decrypt", (PyCFunction)(void (*)(void))CcmKey_call, METH_VARARGS | METH_KEYWORDS,
     "decrypt(nonce, ciphertext || tag, aad) -> plaintext; InvalidTag on any fault"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CcmKeyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ecert_token._accel.CcmKey",
    .tp_basicsize = sizeof(CcmKey),
    .tp_dealloc = (destructor)CcmKey_dealloc,
    .tp_call = (ternaryfunc)CcmKey_call,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "CcmKey(cipher, key, nonce_bytes=13, tag_bytes=8): CCM over 'AES' or 'SM4' "
              "with the key expanded once; called as (nonce, ciphertext || tag, aad) -> "
              "plaintext, raising InvalidTag on any fault.",
    .tp_methods = CcmKey_methods,
    .tp_new = CcmKey_new,
};

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

    /* 3. COSE_Encrypt0: d0 83 <protected> a1 05 <IV> <ciphertext> */
    long long alg;
    const unsigned char *kid;
    Py_ssize_t kid_size, prot_start, u, ct_start, ct_end;
    if (m < 3 || d[0] != 0xD0 || d[1] != 0x83
        || !string_span(d, m, 2, 0x40, &prot_start, &u)) {
        Py_RETURN_NONE;
    }
    /* u: the unprotected header, holding a short IV */
    if (!protected_fields(d + prot_start, u - prot_start, &alg, &kid, &kid_size) || u + 3 > m
        || d[u] != 0xA1 || d[u + 1] != 0x05 || d[u + 2] < 0x40 || d[u + 2] > 0x57
        || !string_span(d, m, u + 3 + (d[u + 2] - 0x40), 0x40, &ct_start, &ct_end)
        || ct_end != m) {
        Py_RETURN_NONE;
    }
    const unsigned char *iv = d + u + 3;
    const Py_ssize_t iv_size = d[u + 2] - 0x40;

    /* 4. the group key bound to the kid, and its AEAD's sizes */
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
    Py_ssize_t nonce_bytes, tag_bytes;
    if (group_alg == ALG_AES_CCM_16_64_128 || group_alg == ALG_SM4_CCM_16_64_128) {
        nonce_bytes = NONCE_BYTES;
        tag_bytes = TAG_BYTES;
    } else if (group_alg == ALG_SM4_GCM) {
        nonce_bytes = GCM_NONCE_BYTES;
        tag_bytes = GCM_TAG_BYTES;
    } else {
        Py_RETURN_NONE; /* another AEAD: not mine */
    }
    if (alg != group_alg) {
        REJECT(ALG_MISMATCH);
    }
    if (iv_size != nonce_bytes) {
        REJECT(NONCE_LENGTH);
    }
    if (PyTuple_GET_ITEM(group, R_REVOKED) == Py_True) {
        REJECT(GROUP_REVOKED);
    }
    if (PyTuple_GET_ITEM(group, R_REVOKED) != Py_False) {
        Py_RETURN_NONE;
    }

    /* 5. AEAD.  A ciphertext shorter than the tag is refused as the key's open()
     * refuses it.  A CCM key made by this module (its route's opener) opens it
     * here, on the stack; any other opener is called: (nonce, ciphertext, aad) ->
     * the plaintext, None, or cryptography's InvalidTag raised. */
    if (ct_end - ct_start < tag_bytes) {
        REJECT(DECRYPTION_FAILED);
    }
    PyObject *opener = PyTuple_GET_ITEM(group, R_OPEN_OR_PUBLIC);
    PyObject *aad = PyTuple_GET_ITEM(group, R_BYTES);
    PyObject *plaintext = NULL; /* the opener's answer, if it was called */
    unsigned char opened[MAX_DATA_BYTES];
    const unsigned char *pt;
    Py_ssize_t pm;
    if (Py_IS_TYPE(opener, &CcmKeyType) && ((CcmKey *)opener)->nonce_bytes == nonce_bytes
        && ((CcmKey *)opener)->tag_bytes == tag_bytes) {
        const int rc = ccm_open((CcmKey *)opener, iv, d + ct_start, ct_end - ct_start,
                                (const unsigned char *)PyBytes_AS_STRING(aad),
                                PyBytes_GET_SIZE(aad), opened);
        if (rc < 0) {
            return NULL;
        }
        if (rc == 0) {
            REJECT(DECRYPTION_FAILED);
        }
        pt = opened;
        pm = ct_end - ct_start - tag_bytes;
        Py_INCREF(group);
    } else {
        Py_INCREF(group);
        PyObject *nonce = PyBytes_FromStringAndSize((const char *)iv, iv_size);
        PyObject *ciphertext = nonce ? PyBytes_FromStringAndSize((const char *)d + ct_start,
                                                                 ct_end - ct_start) : NULL;
        if (ciphertext != NULL) {
            plaintext = PyObject_CallFunctionObjArgs(opener, nonce, ciphertext, aad, NULL);
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
        if (!PyBytes_CheckExact(plaintext)) {
            Py_DECREF(group);
            Py_DECREF(plaintext);
            PyErr_SetString(PyExc_TypeError, "an AEAD open() must answer bytes or None");
            return NULL;
        }
        pt = (const unsigned char *)PyBytes_AS_STRING(plaintext);
        pm = PyBytes_GET_SIZE(plaintext);
    }
    PyObject *result = NULL;
    PyObject *fields = NULL;
    /* The issuer route, held: the SM2 check calls Python and the Ed25519 check
     * releases the GIL, and either lets other code replace the caller's routes. */
    PyObject *issuer = NULL;

    /* 6. COSE_Sign1: d2 84 <protected> a0 <payload> 58 40 <signature>; the claims */
    long long sign_alg;
    const unsigned char *sign_kid;
    Py_ssize_t sign_kid_size, sign_prot_start, v, pay_start, pay_end;
    if (pm < 3 || pt[0] != 0xD2 || pt[1] != 0x84
        || !string_span(pt, pm, 2, 0x40, &sign_prot_start, &v)) {
        result = Py_None;
        goto done;
    }
    /* v: the unprotected header */
    if (!protected_fields(pt + sign_prot_start, v - sign_prot_start, &sign_alg, &sign_kid,
                          &sign_kid_size) || v >= pm
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
    issuer = find_route(issuers, sign_kid, sign_kid_size);
    if (issuer == NULL) {
        if (!PyErr_Occurred()) {
            result = PyLong_FromLong(UNKNOWN_ISSUER);
        }
        goto done;
    }
    Py_INCREF(issuer);
    long long issuer_alg, issuer_low, issuer_high;
    if (!route_int(issuer, R_ALG, &issuer_alg) || !route_int(issuer, R_NOT_BEFORE, &issuer_low)
        || !route_int(issuer, R_NOT_AFTER, &issuer_high)) {
        goto done;
    }
    /* The issuer route's public item: Ed25519's 32 raw bytes, or SM2's verify
     * callable (message, signature) -> bool. */
    PyObject *public = PyTuple_GET_ITEM(issuer, R_OPEN_OR_PUBLIC);
    PyObject *revoked = PyTuple_GET_ITEM(issuer, R_REVOKED);
    const int ed25519 = issuer_alg == ALG_EDDSA && PyBytes_CheckExact(public)
                        && PyBytes_GET_SIZE(public) == PUBLIC_KEY_BYTES;
    const int sm2 = issuer_alg == ALG_SM2_SM3 && PyCallable_Check(public);
    if ((!ed25519 && !sm2) || (revoked != Py_True && revoked != Py_False)) {
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

    /* 8. The signature over the Sig_structure: the route's prefix, then the
     * payload with its heading. */
    PyObject *prefix = PyTuple_GET_ITEM(issuer, R_BYTES);
    const Py_ssize_t prefix_size = PyBytes_GET_SIZE(prefix);
    const Py_ssize_t payload_size = pay_end - (v + 1);
    int valid;
    if (sm2) {
        /* SM2 is in no library linked here: the route's callable (the backend's
         * verify), which answers a truth value, or raises ValueError or TypeError
         * for a signature it cannot read (a refusal, as SM2PublicKey.verify). */
        PyObject *message = PyBytes_FromStringAndSize(NULL, prefix_size + payload_size);
        PyObject *signature = message ? PyBytes_FromStringAndSize(
            (const char *)pt + pay_end + 2, SIGNATURE_BYTES) : NULL;
        PyObject *answer = NULL;
        if (signature != NULL) {
            memcpy(PyBytes_AS_STRING(message), PyBytes_AS_STRING(prefix), (size_t)prefix_size);
            memcpy(PyBytes_AS_STRING(message) + prefix_size, pt + v + 1, (size_t)payload_size);
            answer = PyObject_CallFunctionObjArgs(public, message, signature, NULL);
        }
        Py_XDECREF(message);
        Py_XDECREF(signature);
        if (answer == NULL) {
            if (!PyErr_Occurred() || !(PyErr_ExceptionMatches(PyExc_ValueError)
                                       || PyErr_ExceptionMatches(PyExc_TypeError))) {
                goto done;
            }
            PyErr_Clear();
            valid = 0;
        } else {
            valid = PyObject_IsTrue(answer);
            Py_DECREF(answer);
            if (valid < 0) {
                goto done;
            }
        }
    } else {
        /* Ed25519 by libsodium, on copies with the GIL released. */
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
        memcpy(public_key, PyBytes_AS_STRING(public), PUBLIC_KEY_BYTES);
        const unsigned long long message_size = (unsigned long long)(prefix_size + payload_size);
        Py_BEGIN_ALLOW_THREADS
        valid = crypto_sign_verify_detached(signature, message, message_size, public_key) == 0;
        Py_END_ALLOW_THREADS
    }
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
    if (plaintext == NULL) {
        OPENSSL_cleanse(opened, (size_t)pm);
    }
    Py_XDECREF(fields);
    Py_XDECREF(plaintext);
    Py_XDECREF(issuer);
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
    if (PyType_Ready(&CcmKeyType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    PyObject *constants = PyDict_New();
    PyObject *rejections = PyTuple_New(REJECTION_COUNT);
    if (module == NULL || constants == NULL || rejections == NULL
        || add_int(constants, "ALG_EDDSA", ALG_EDDSA) < 0
        || add_int(constants, "ALG_AES_CCM_16_64_128", ALG_AES_CCM_16_64_128) < 0
        || add_int(constants, "ALG_SM2_SM3", (long)ALG_SM2_SM3) < 0
        || add_int(constants, "ALG_SM4_CCM_16_64_128", (long)ALG_SM4_CCM_16_64_128) < 0
        || add_int(constants, "ALG_SM4_GCM", (long)ALG_SM4_GCM) < 0
        || add_int(constants, "NONCE_BYTES", NONCE_BYTES) < 0
        || add_int(constants, "TAG_BYTES", TAG_BYTES) < 0
        || add_int(constants, "SM4_CCM_NONCE_BYTES", NONCE_BYTES) < 0
        || add_int(constants, "SM4_CCM_TAG_BYTES", TAG_BYTES) < 0
        || add_int(constants, "SM4_GCM_NONCE_BYTES", GCM_NONCE_BYTES) < 0
        || add_int(constants, "SM4_GCM_TAG_BYTES", GCM_TAG_BYTES) < 0
        || add_int(constants, "SM2_SIGNATURE_BYTES", SIGNATURE_BYTES) < 0
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
    Py_INCREF(&CcmKeyType);
    if (PyModule_AddObject(module, "CcmKey", (PyObject *)&CcmKeyType) < 0) {
        Py_DECREF(&CcmKeyType);
        Py_DECREF(module);
        return NULL;
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
