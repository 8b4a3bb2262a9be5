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
 *            subject, None, True), as codec.cwt.claims_layout_fields gives them.
 *
 * None means "not the common canonical case": the caller then takes the
 * general, strict path, which gives the answer or the error.  So this reader
 * may refuse more than the Python one (it only takes ids of ASCII letters and
 * digits, no actor, a name of at most 23 bytes) but never answers differently.
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

/* The claims fields tuple, NULL with no error set for "not this layout", or
 * NULL with an error set. */
static PyObject *
claims_fields(const unsigned char *p, Py_ssize_t n)
{
    if (n < 3 || p[0] != 0xA5 || p[1] != 0x02 || p[2] < 0x66 || p[2] > 0x77) {
        return NULL;
    }
    Py_ssize_t i = 3 + (p[2] - 0x60); /* end of the id */
    if (i + 14 > n) {
        return NULL;
    }
    for (Py_ssize_t k = 3; k < i; k++) {
        if (!ascii_alnum(p[k])) {
            return NULL;
        }
    }
    const unsigned char *t = p + i;
    unsigned long exp = be32(t + 2), iat = be32(t + 8);
    if (t[0] != 0x04 || t[1] != 0x1A || exp < 0x10000 || t[6] != 0x06 || t[7] != 0x1A
        || iat < 0x10000 || t[12] != 0x07 || t[13] < 0x40 || t[13] > 0x57) {
        return NULL;
    }
    const Py_ssize_t cti_start = i + 14;
    const Py_ssize_t j = cti_start + (t[13] - 0x40); /* the e-certificate claim */
    if (j + 19 > n) {
        return NULL;
    }
    const unsigned char *e = p + j;
    unsigned long region = be32(e + 7);
    unsigned ins = ((unsigned)e[12] << 8) | e[13];
    unsigned bus = ((unsigned)e[15] << 8) | e[16];
    if (e[0] != 0x3A || e[1] != 0x00 || e[2] != 0x01 || e[3] != 0x00 || e[4] != 0x00
        || e[5] != 0x86 || e[6] != 0x1A || region < 0x10000 || e[11] != 0x19 || ins < 0x100
        || e[14] != 0x19 || bus < 0x100 || e[17] > 0x17) {
        return NULL;
    }
    const Py_ssize_t name_at = j + 18;
    const unsigned char h = p[name_at];
    if (h < 0x60 || h > 0x77) {
        return NULL;
    }
    const Py_ssize_t name_end = name_at + 1 + (h - 0x60);
    if (name_end + 1 != n || p[name_end] > 0x17) { /* subject kind, then the end */
        return NULL;
    }
    PyObject *name = PyUnicode_DecodeUTF8((const char *)p + name_at + 1, h - 0x60, "strict");
    if (name == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
        }
        return NULL;
    }
    PyObject *sub = PyUnicode_DecodeASCII((const char *)p + 3, i - 3, "strict");
    PyObject *cti = PyBytes_FromStringAndSize((const char *)p + cti_start, j - cti_start);
    if (sub == NULL || cti == NULL) {
        Py_XDECREF(sub);
        Py_XDECREF(cti);
        Py_DECREF(name);
        return NULL;
    }
    /* "N" steals the references to sub, cti and name. */
    return Py_BuildValue("(NkkNkIIINIOO)", sub, exp, iat, cti, region, ins, bus,
                         (unsigned)e[17], name, (unsigned)p[name_end], Py_None, Py_True);
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
