/*
 * Optional compiled reader of the canonical COSE_Sign1 + claims layout
 * (ecert_token.codec.canonical.read_sign1; the pure-Python reader there is
 * the reference and gives the same answers).
 *
 * read_sign1(plaintext, openings) -> (route, signed, fields) or None
 *
 *   plaintext: the decrypted bytes; openings: dict of COSE_Sign1 opening bytes
 *   -> route tuple whose item 1 is the Sig_structure prefix (bytes).
 *   signed: signature || Sig_structure, as libsodium's crypto_sign_open takes it.
 *   fields: (sub, exp, iat, cti, region, insurance, business, channel, name,
 *            subject, actor, plain_id), as codec.cwt.claims_layout_fields gives them.
 *
 * None means "not the canonical layout": the caller then takes the general,
 * strict path, which gives the answer or the error.  It reads exactly what
 * the Python reader reads and gives the same answer (the tests compare them).
 *
 * Safety: every index is checked against the length before it is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static unsigned long
be32(const unsigned char *p)
{
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16)
           | ((unsigned long)p[2] << 8) | (unsigned long)p[3];
}

static int
ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* codec.cbor.string_span for a text string whose heading is at p[i]: the
 * shortest heading only; 0 if the heading is not one, or the string does not
 * fit in n bytes (where the Python reader would fail later, on a short read or
 * the final length check). */
static int
text_span(const unsigned char *p, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *start,
          Py_ssize_t *end)
{
    if (i >= n || p[i] < 0x60) {
        return 0;
    }
    const unsigned h = p[i] - 0x60;
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

/* The claims fields tuple, exactly as codec.cwt.claims_layout_fields gives it;
 * NULL with no error set for "not this layout", or NULL with an error set. */
static PyObject *
claims_fields(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t sub_start, i;
    if (n < 3 || p[0] != 0xA5 || p[1] != 0x02 || !text_span(p, n, 2, &sub_start, &i)) {
        return NULL;
    }
    /* plain_id as the Python reader sets it: a direct heading for 6 to 23
     * bytes, all ASCII letters and digits. */
    int plain_id = p[2] >= 0x66 && p[2] <= 0x77;
    for (Py_ssize_t k = sub_start; plain_id && k < i; k++) {
        plain_id = ascii_alnum(p[k]);
    }
    if (i + 14 > n) {
        return NULL;
    }
    const unsigned char *t = p + i;
    unsigned long exp = be32(t + 2), iat = be32(t + 8);
    if (t[0] != 0x04 || t[1] != 0x1A || exp < 0x10000 || t[6] != 0x06 || t[7] != 0x1A
        || iat < 0x10000 || t[12] != 0x07 || t[13] < 0x40 || t[13] > 0x57) {
        return NULL;
    }
    const Py_ssize_t cti_start = i + 14;
    const Py_ssize_t j = cti_start + (t[13] - 0x40); /* the e-certificate claim */
    if (j + 18 > n) {
        return NULL;
    }
    const unsigned char *e = p + j;
    unsigned long region = be32(e + 7);
    unsigned ins = ((unsigned)e[12] << 8) | e[13];
    unsigned bus = ((unsigned)e[15] << 8) | e[16];
    if (e[0] != 0x3A || e[1] != 0x00 || e[2] != 0x01 || e[3] != 0x00 || e[4] != 0x00
        || (e[5] != 0x86 && e[5] != 0x87) || e[6] != 0x1A || region < 0x10000
        || e[11] != 0x19 || ins < 0x100 || e[14] != 0x19 || bus < 0x100 || e[17] > 0x17) {
        return NULL;
    }
    Py_ssize_t name_start, name_end;
    if (!text_span(p, n, j + 18, &name_start, &name_end) || name_end >= n) {
        return NULL;
    }
    const unsigned subject = p[name_end];
    Py_ssize_t actor_start = 0, actor_end = name_end + 1;
    if (e[5] == 0x87 && !text_span(p, n, name_end + 1, &actor_start, &actor_end)) {
        return NULL;
    }
    if (actor_end != n || subject > 0x17) {
        return NULL;
    }
    PyObject *sub = utf8(p + sub_start, i - sub_start);
    PyObject *name = sub ? utf8(p + name_start, name_end - name_start) : NULL;
    PyObject *actor = Py_None;
    Py_INCREF(actor);
    if (name != NULL && e[5] == 0x87) {
        Py_DECREF(actor);
        actor = utf8(p + actor_start, actor_end - actor_start);
    }
    PyObject *cti = actor ? PyBytes_FromStringAndSize((const char *)p + cti_start,
                                                      j - cti_start) : NULL;
    if (sub == NULL || name == NULL || actor == NULL || cti == NULL) {
        Py_XDECREF(sub);
        Py_XDECREF(name);
        Py_XDECREF(actor);
        Py_XDECREF(cti);
        return NULL;
    }
    /* "N" steals the references to sub, cti, name and actor. */
    return Py_BuildValue("(NkkNkIIININO)", sub, exp, iat, cti, region, ins, bus,
                         (unsigned)e[17], name, subject, actor,
                         plain_id ? Py_True : Py_False);
}

static PyObject *
read_sign1(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *plaintext;
    PyObject *openings;
    if (!PyArg_ParseTuple(args, "OO!", &plaintext, &PyDict_Type, &openings)) {
        return NULL;
    }
    if (!PyBytes_CheckExact(plaintext)) {
        Py_RETURN_NONE;
    }
    const unsigned char *pt = (const unsigned char *)PyBytes_AS_STRING(plaintext);
    const Py_ssize_t m = PyBytes_GET_SIZE(plaintext);
    if (m <= 96) {
        Py_RETURN_NONE;
    }
    const Py_ssize_t q = (Py_ssize_t)pt[2] - 0x3B; /* the payload's length byte */
    if (q < 2 || q >= m - 90) {
        Py_RETURN_NONE;
    }
    const Py_ssize_t size = pt[q];
    const Py_ssize_t end = q + 1 + size;
    if (size < 24 || end + 66 != m || pt[end] != 0x58 || pt[end + 1] != 0x40) {
        Py_RETURN_NONE;
    }
    PyObject *opening = PyBytes_FromStringAndSize((const char *)pt, q);
    if (opening == NULL) {
        return NULL;
    }
    PyObject *route = PyDict_GetItemWithError(openings, opening); /* borrowed */
    Py_DECREF(opening);
    if (route == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (!PyTuple_Check(route) || PyTuple_GET_SIZE(route) < 2
        || !PyBytes_CheckExact(PyTuple_GET_ITEM(route, 1))) {
        PyErr_SetString(PyExc_TypeError, "a route must be a tuple with the prefix at 1");
        return NULL;
    }
    Py_INCREF(route);
    PyObject *fields = claims_fields(pt + q + 1, size);
    if (fields == NULL) {
        Py_DECREF(route);
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *prefix = PyTuple_GET_ITEM(route, 1);
    const Py_ssize_t prefix_size = PyBytes_GET_SIZE(prefix);
    const Py_ssize_t payload_size = end - (q - 1); /* with its two heading bytes */
    PyObject *signed_ = PyBytes_FromStringAndSize(NULL, 64 + prefix_size + payload_size);
    if (signed_ == NULL) {
        Py_DECREF(route);
        Py_DECREF(fields);
        return NULL;
    }
    char *s = PyBytes_AS_STRING(signed_);
    memcpy(s, pt + end + 2, 64);
    memcpy(s + 64, PyBytes_AS_STRING(prefix), (size_t)prefix_size);
    memcpy(s + 64 + prefix_size, pt + q - 1, (size_t)payload_size);
    return Py_BuildValue("(NNN)", route, signed_, fields);
}

static PyMethodDef methods[] = {
    {"read_sign1", read_sign1, METH_VARARGS,
     "read_sign1(plaintext, openings) -> (route, signed, fields) or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ecert_token.codec._canonical",
    "Optional compiled canonical-layout reader (see ecert_token.codec.canonical).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__canonical(void)
{
    return PyModule_Create(&module_def);
}
