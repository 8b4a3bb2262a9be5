/*
 * The accelerator's minter: a second source file of the one compiled
 * extension ecert_token._accel (its module init calls mint_module_init, its
 * method table lists mint_token); chosen only in ecert_token/_speedups.py.
 *
 * mint_token(state, claims, nonce)
 *   does what Issuer._seal (token/mint.py) does after the claims are built and
 *   the nonce drawn: the claims map in the deterministic CBOR layout, the
 *   Sig_structure, the Ed25519 signature (the system libsodium's
 *   crypto_sign_detached), COSE_Sign1, AES-CCM (the group key's own encrypt,
 *   called back into Python), COSE_Encrypt0, Base45 and the text prefix.  Its
 *   answer is the token text, exactly the Python path's for the same inputs,
 *   or None ("not mine": the Python path decides) for what it does not take:
 *   claims outside the canonical layout's fixed headings (times before
 *   1970-01-01T18:12 or from 2106 on, codes that do not fit them), fields of
 *   other types, a nonce of another length.
 *
 *   state: (sign_protected, secret_key, enc_protected, aad, encrypt, prefix)
 *   as token/mint.py builds it once per Issuer: the serialized protected
 *   headers, libsodium's 64-byte Ed25519 secret key, the Enc_structure, the
 *   AEAD's encrypt(nonce, plaintext, aad) -> ciphertext, and the text prefix.
 *   claims: a TokenClaims (model/claims.py), already validated by the model.
 *   Codes travel as their integer wire form, the code's own text read as an
 *   integer (``int(value)``, model/codes.py and model/region.py ``wire``).
 *
 * The value rules it was compiled with are exported (MINT_CONSTANTS) and
 * compared with the Python ones at import (_speedups.minter).
 *
 * Safety: every length is checked against its buffer before a write; the GIL
 * is released only around the signature, on copies the function owns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sodium.h>
#include <string.h>

#define M_NONCE_BYTES 13
#define M_SIGNATURE_BYTES 64
#define M_SECRET_KEY_BYTES 64 /* libsodium's crypto_sign_SECRETKEYBYTES */
#define M_CLAIM_SUB 2
#define M_CLAIM_EXP 4
#define M_CLAIM_IAT 6
#define M_CLAIM_CTI 7
#define M_CLAIM_ECERT (-65537)
#define M_MAX_STRING 255    /* strings longer than this are not mine */
#define M_MAX_HEADER 64     /* serialized protected headers longer than this are not mine */
#define M_MAX_PAYLOAD 1200  /* four strings of 255 bytes and the fixed fields fit */

enum { S_SIGN_PROTECTED, S_SECRET, S_ENC_PROTECTED, S_AAD, S_ENCRYPT, S_PREFIX, STATE_SIZE };

/* TokenClaims fields, in declaration order (model/claims.py). */
enum { F_TOKEN_ID, F_ISSUED_AT, F_EXPIRES_AT, F_CREDENTIAL_ID, F_SUBJECT_KIND, F_REGION,
       F_INSURANCE_TYPE, F_MASKED_NAME, F_BUSINESS_TYPE, F_CHANNEL, F_ACTOR_ID, FIELD_COUNT };
static const char *const FIELD_NAMES[FIELD_COUNT] = {
    "token_id", "issued_at", "expires_at", "credential_id", "subject_kind", "region",
    "insurance_type", "masked_name", "business_type", "channel", "actor_id",
};
static PyObject *FIELDS[FIELD_COUNT]; /* interned names */
static PyObject *CODE;                /* "code" (Region.code) */

static const char B45[46] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/* A CBOR heading of major type `major` (0x40 bytes, 0x60 text) for `size` bytes,
 * the shortest one (size <= 0xFFFF); its length. */
static Py_ssize_t
put_head(unsigned char *o, unsigned major, Py_ssize_t size)
{
    if (size <= 23) {
        o[0] = (unsigned char)(major + size);
        return 1;
    }
    if (size <= 0xFF) {
        o[0] = (unsigned char)(major + 24);
        o[1] = (unsigned char)size;
        return 2;
    }
    o[0] = (unsigned char)(major + 25);
    o[1] = (unsigned char)(size >> 8);
    o[2] = (unsigned char)(size & 0xFF);
    return 3;
}

static void
put_be32(unsigned char *o, unsigned long v)
{
    o[0] = (unsigned char)(v >> 24);
    o[1] = (unsigned char)(v >> 16);
    o[2] = (unsigned char)(v >> 8);
    o[3] = (unsigned char)v;
}

/* A code's wire integer: its text (a str enum member, or Region.code) read as
 * int() reads it; -1 with no error set if it is not text or not a number. */
static long
wire_of(PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        return -1;
    }
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (PyUnicode_IS_ASCII(text) && n >= 1 && n <= 9) { /* the codes: ASCII digits */
        const Py_UCS1 *d = PyUnicode_1BYTE_DATA(text);
        long value = 0;
        Py_ssize_t j = 0;
        for (; j < n && d[j] >= '0' && d[j] <= '9'; j++) {
            value = value * 10 + (d[j] - '0');
        }
        if (j == n) {
            return value;
        }
    }
    PyObject *number = PyLong_FromUnicodeObject(text, 10);
    if (number == NULL) {
        PyErr_Clear();
        return -1;
    }
    const long value = PyLong_AsLong(number);
    Py_DECREF(number);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
    }
    return value;
}

/* The UTF-8 of an exact str of at most M_MAX_STRING bytes, or NULL (no error). */
static const char *
text_of(PyObject *obj, Py_ssize_t *size)
{
    if (!PyUnicode_CheckExact(obj)) {
        return NULL;
    }
    const char *s = PyUnicode_AsUTF8AndSize(obj, size);
    if (s == NULL) {
        PyErr_Clear(); /* a lone surrogate: the Python path raises its own error */
        return NULL;
    }
    return *size <= M_MAX_STRING ? s : NULL;
}

/* The claims map in the layout of codec/cwt.encode_claims's fixed-headings
 * path, into o (room for M_MAX_PAYLOAD); its length, 0 for "not mine", -1
 * with an error set. */
static Py_ssize_t
encode_claims(PyObject *const *f, unsigned char *o)
{
    PyObject *tid = f[F_TOKEN_ID];
    if (!PyBytes_CheckExact(tid) || PyBytes_GET_SIZE(tid) > M_MAX_STRING
        || !PyLong_CheckExact(f[F_ISSUED_AT]) || !PyLong_CheckExact(f[F_EXPIRES_AT])) {
        return 0;
    }
    int overflow = 0;
    const long long iat = PyLong_AsLongLongAndOverflow(f[F_ISSUED_AT], &overflow);
    const long long exp = overflow ? 0 : PyLong_AsLongLongAndOverflow(f[F_EXPIRES_AT], &overflow);
    if (overflow || !(0x10000 <= iat && iat < exp && exp < 0x100000000LL)) {
        return 0;
    }
    PyObject *code = PyObject_GetAttr(f[F_REGION], CODE);
    if (code == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear(); /* not a Region: the Python path says so */
        return 0;
    }
    const long region = wire_of(code);
    Py_DECREF(code);
    const long ins = wire_of(f[F_INSURANCE_TYPE]);
    const long bus = wire_of(f[F_BUSINESS_TYPE]);
    const long channel = wire_of(f[F_CHANNEL]);
    const long subject = wire_of(f[F_SUBJECT_KIND]);
    if (!(0x10000 <= region && region <= 0xFFFFFFFFL) || !(0x100 <= ins && ins <= 0xFFFF)
        || !(0x100 <= bus && bus <= 0xFFFF) || !(0 <= channel && channel <= 23)
        || !(0 <= subject && subject <= 23)) {
        return 0;
    }
    Py_ssize_t sub_size, name_size, actor_size = 0;
    const char *sub = text_of(f[F_CREDENTIAL_ID], &sub_size);
    const char *name = text_of(f[F_MASKED_NAME], &name_size);
    const char *actor = NULL;
    const int has_actor = f[F_ACTOR_ID] != Py_None;
    if (has_actor && (actor = text_of(f[F_ACTOR_ID], &actor_size)) == NULL) {
        return 0;
    }
    if (sub == NULL || name == NULL) {
        return 0;
    }
    /* Three strings of at most 255 bytes, the token id and 40 fixed bytes fit. */
    Py_ssize_t i = 0;
    o[i++] = 0xA5;
    o[i++] = M_CLAIM_SUB;
    i += put_head(o + i, 0x60, sub_size);
    memcpy(o + i, sub, (size_t)sub_size);
    i += sub_size;
    o[i++] = M_CLAIM_EXP;
    o[i++] = 0x1A;
    put_be32(o + i, (unsigned long)exp);
    i += 4;
    o[i++] = M_CLAIM_IAT;
    o[i++] = 0x1A;
    put_be32(o + i, (unsigned long)iat);
    i += 4;
    o[i++] = M_CLAIM_CTI;
    i += put_head(o + i, 0x40, PyBytes_GET_SIZE(tid));
    memcpy(o + i, PyBytes_AS_STRING(tid), (size_t)PyBytes_GET_SIZE(tid));
    i += PyBytes_GET_SIZE(tid);
    o[i++] = 0x3A; /* -65537: major type 1, argument 65536 */
    put_be32(o + i, (unsigned long)(-1 - M_CLAIM_ECERT));
    i += 4;
    o[i++] = has_actor ? 0x87 : 0x86;
    o[i++] = 0x1A;
    put_be32(o + i, (unsigned long)region);
    i += 4;
    o[i++] = 0x19;
    o[i++] = (unsigned char)(ins >> 8);
    o[i++] = (unsigned char)ins;
    o[i++] = 0x19;
    o[i++] = (unsigned char)(bus >> 8);
    o[i++] = (unsigned char)bus;
    o[i++] = (unsigned char)channel;
    i += put_head(o + i, 0x60, name_size);
    memcpy(o + i, name, (size_t)name_size);
    i += name_size;
    o[i++] = (unsigned char)subject;
    if (has_actor) {
        i += put_head(o + i, 0x60, actor_size);
        memcpy(o + i, actor, (size_t)actor_size);
        i += actor_size;
    }
    return i;
}

/* Base45 (RFC 9285) of n bytes into o (room for n / 2 * 3 + 2 characters). */
static void
base45_into(const unsigned char *s, Py_ssize_t n, Py_UCS1 *o)
{
    for (; n >= 2; n -= 2, s += 2, o += 3) {
        const unsigned v = ((unsigned)s[0] << 8) | s[1];
        const unsigned q = v / 45, c = q / 45;
        o[0] = (Py_UCS1)B45[v - 45 * q];
        o[1] = (Py_UCS1)B45[q - 45 * c];
        o[2] = (Py_UCS1)B45[c];
    }
    if (n == 1) {
        o[0] = (Py_UCS1)B45[s[0] % 45];
        o[1] = (Py_UCS1)B45[s[0] / 45];
    }
}

PyObject *
mint_token(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != STATE_SIZE) {
        PyErr_SetString(PyExc_TypeError, "mint_token(state, claims, nonce)");
        return NULL;
    }
    PyObject *const *state = &PyTuple_GET_ITEM(args[0], 0);
    PyObject *sprot = state[S_SIGN_PROTECTED], *secret = state[S_SECRET];
    PyObject *eprot = state[S_ENC_PROTECTED], *aad = state[S_AAD], *prefix = state[S_PREFIX];
    PyObject *nonce = args[2];
    if (!PyBytes_CheckExact(sprot) || PyBytes_GET_SIZE(sprot) > M_MAX_HEADER
        || !PyBytes_CheckExact(secret) || PyBytes_GET_SIZE(secret) != M_SECRET_KEY_BYTES
        || !PyBytes_CheckExact(eprot) || PyBytes_GET_SIZE(eprot) > M_MAX_HEADER
        || !PyUnicode_CheckExact(prefix) || !PyUnicode_IS_ASCII(prefix)
        || PyUnicode_GET_LENGTH(prefix) > M_MAX_HEADER) {
        PyErr_SetString(PyExc_TypeError, "mint_token: not a minting state of token/mint.py");
        return NULL;
    }
    if (!PyBytes_CheckExact(nonce) || PyBytes_GET_SIZE(nonce) != M_NONCE_BYTES) {
        Py_RETURN_NONE;
    }

    /* The claims' fields (new references). */
    PyObject *fields[FIELD_COUNT];
    int got = 0;
    for (; got < FIELD_COUNT; got++) {
        fields[got] = PyObject_GetAttr(args[1], FIELDS[got]);
        if (fields[got] == NULL) {
            break;
        }
    }
    PyObject *result = NULL;
    if (got < FIELD_COUNT) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear(); /* not claims: the Python path says so */
            result = Py_None;
            Py_INCREF(result);
        }
        goto done;
    }

    /* Sig_structure: 84 6a "Signature1" <bstr protected> 40 <bstr payload>; the
     * payload is written in place, then its heading. */
    enum { CONTEXT = 12, SPROT_MAX = 3 + M_MAX_HEADER, PAY_HEAD = 3 };
    unsigned char message[CONTEXT + SPROT_MAX + 1 + PAY_HEAD + M_MAX_PAYLOAD];
    unsigned char payload[M_MAX_PAYLOAD];
    const Py_ssize_t payload_size = encode_claims(fields, payload);
    if (payload_size <= 0) {
        if (payload_size == 0) {
            result = Py_None;
            Py_INCREF(result);
        }
        goto done;
    }
    const Py_ssize_t sprot_size = PyBytes_GET_SIZE(sprot);
    Py_ssize_t m = 0;
    memcpy(message, "\x84\x6aSignature1", CONTEXT);
    m = CONTEXT;
    m += put_head(message + m, 0x40, sprot_size);
    memcpy(message + m, PyBytes_AS_STRING(sprot), (size_t)sprot_size);
    m += sprot_size;
    message[m++] = 0x40;
    const Py_ssize_t payload_at = m; /* the payload with its heading, as Sign1 holds it */
    m += put_head(message + m, 0x40, payload_size);
    memcpy(message + m, payload, (size_t)payload_size);
    m += payload_size;

    unsigned char signature[M_SIGNATURE_BYTES];
    unsigned char sk[M_SECRET_KEY_BYTES];
    memcpy(sk, PyBytes_AS_STRING(secret), M_SECRET_KEY_BYTES);
    int signed_ok;
    Py_BEGIN_ALLOW_THREADS
    signed_ok = crypto_sign_detached(signature, NULL, message, (unsigned long long)m, sk) == 0;
    Py_END_ALLOW_THREADS
    sodium_memzero(sk, sizeof sk);
    if (!signed_ok) {
        PyErr_SetString(PyExc_RuntimeError, "libsodium could not sign");
        goto done;
    }

    /* COSE_Sign1: d2 84 <bstr protected> a0 <bstr payload> 58 40 <signature> */
    const Py_ssize_t body = m - payload_at; /* payload heading and payload */
    const Py_ssize_t sign1_size = 2 + (payload_at - 1 - CONTEXT) + 1 + body + 2
                                  + M_SIGNATURE_BYTES;
    PyObject *sign1 = PyBytes_FromStringAndSize(NULL, sign1_size);
    if (sign1 == NULL) {
        goto done;
    }
    unsigned char *s = (unsigned char *)PyBytes_AS_STRING(sign1);
    s[0] = 0xD2;
    s[1] = 0x84;
    memcpy(s + 2, message + CONTEXT, (size_t)(payload_at - 1 - CONTEXT));
    Py_ssize_t k = 2 + (payload_at - 1 - CONTEXT);
    s[k++] = 0xA0;
    memcpy(s + k, message + payload_at, (size_t)body);
    k += body;
    s[k++] = 0x58;
    s[k++] = M_SIGNATURE_BYTES;
    memcpy(s + k, signature, M_SIGNATURE_BYTES);

    /* AES-CCM, by the group key's own encrypt(nonce, plaintext, aad). */
    PyObject *call[3] = {nonce, sign1, aad};
    PyObject *ciphertext = PyObject_Vectorcall(state[S_ENCRYPT], call, 3, NULL);
    Py_DECREF(sign1);
    if (ciphertext == NULL) {
        goto done;
    }
    const Py_ssize_t ct_size = PyBytes_CheckExact(ciphertext) ? PyBytes_GET_SIZE(ciphertext) : -1;
    if (ct_size < 0 || ct_size > 2 * M_MAX_PAYLOAD) {
        Py_DECREF(ciphertext);
        PyErr_SetString(PyExc_TypeError, "an AEAD encrypt() must answer bytes");
        goto done;
    }

    /* COSE_Encrypt0: d0 83 <bstr protected> a1 05 4d <nonce> <bstr ciphertext> */
    unsigned char envelope[2 + SPROT_MAX + 3 + M_NONCE_BYTES + 3 + 2 * M_MAX_PAYLOAD];
    const Py_ssize_t eprot_size = PyBytes_GET_SIZE(eprot);
    Py_ssize_t e = 0;
    envelope[e++] = 0xD0;
    envelope[e++] = 0x83;
    e += put_head(envelope + e, 0x40, eprot_size);
    memcpy(envelope + e, PyBytes_AS_STRING(eprot), (size_t)eprot_size);
    e += eprot_size;
    envelope[e++] = 0xA1;
    envelope[e++] = 0x05;
    envelope[e++] = 0x40 + M_NONCE_BYTES;
    memcpy(envelope + e, PyBytes_AS_STRING(nonce), M_NONCE_BYTES);
    e += M_NONCE_BYTES;
    e += put_head(envelope + e, 0x40, ct_size);
    memcpy(envelope + e, PyBytes_AS_STRING(ciphertext), (size_t)ct_size);
    e += ct_size;
    Py_DECREF(ciphertext);

    /* The text: the prefix, then Base45. */
    const Py_ssize_t prefix_size = PyUnicode_GET_LENGTH(prefix);
    result = PyUnicode_New(prefix_size + e / 2 * 3 + (e % 2 ? 2 : 0), 127);
    if (result == NULL) {
        goto done;
    }
    Py_UCS1 *text = PyUnicode_1BYTE_DATA(result);
    memcpy(text, PyUnicode_1BYTE_DATA(prefix), (size_t)prefix_size);
    base45_into(envelope, e, text + prefix_size);

done:
    for (int j = 0; j < got; j++) {
        Py_DECREF(fields[j]);
    }
    return result;
}

/* Called once by the module init of _accel.c: the interned names and
 * MINT_CONSTANTS. */
int
mint_module_init(PyObject *module)
{
    for (int j = 0; j < FIELD_COUNT; j++) {
        if (FIELDS[j] == NULL && (FIELDS[j] = PyUnicode_InternFromString(FIELD_NAMES[j])) == NULL) {
            return -1;
        }
    }
    if (CODE == NULL && (CODE = PyUnicode_InternFromString("code")) == NULL) {
        return -1;
    }
    PyObject *constants = Py_BuildValue(
        "{s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "NONCE_BYTES", M_NONCE_BYTES,
        "SIGNATURE_BYTES", M_SIGNATURE_BYTES, "CLAIM_SUB", M_CLAIM_SUB, "CLAIM_EXP", M_CLAIM_EXP,
        "CLAIM_IAT", M_CLAIM_IAT, "CLAIM_CTI", M_CLAIM_CTI, "CLAIM_ECERT", M_CLAIM_ECERT);
    if (constants == NULL || PyModule_AddObject(module, "MINT_CONSTANTS", constants) < 0) {
        Py_XDECREF(constants);
        return -1;
    }
    return 0;
}
