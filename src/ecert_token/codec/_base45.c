/*
 * Optional compiled Base45 (RFC 9285) for ecert_token.codec.base45.
 *
 * Why: Base45 is the largest pure-Python stage of a verification (about 2 us
 * of the 6 to 7 us the pipeline adds to the Ed25519 check), and a loop over
 * 280 characters is what C does in a fraction of a microsecond.  The module
 * is optional: without a C compiler the package installs without it and the
 * pure-Python decoder is used; the tests check both give the same answers.
 *
 * Contract (kept deliberately small):
 *   decode(text) -> bytes, or None for ANY input that is not valid Base45
 *                   (not a str, a character outside the alphabet, a length of
 *                   1 mod 3, a group above 65535, a pair above 255);
 *   encode(data) -> str for a bytes object, or None for anything else.
 * None hands the input to the pure-Python code, which gives the answer or the
 * error, so error messages come from one place.
 *
 * Safety: every read is bounded by the input's length and every write by the
 * output's length, both computed before the loop; no other state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static const char ALPHABET[46] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
static unsigned char DIGITS[256]; /* character -> value, 0xFF if not Base45 */

static PyObject *
b45_decode(PyObject *module, PyObject *text)
{
    (void)module;
    if (!PyUnicode_Check(text)) {
        Py_RETURN_NONE;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
#endif
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NONE;
    }
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const Py_ssize_t groups = n / 3;
    const Py_ssize_t rest = n % 3;
    if (rest == 1) {
        Py_RETURN_NONE;
    }
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    PyObject *out = PyBytes_FromStringAndSize(NULL, 2 * groups + (rest ? 1 : 0));
    if (out == NULL) {
        return NULL;
    }
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t g = 0; g < groups; g++) {
        const unsigned a = DIGITS[s[3 * g]];
        const unsigned b = DIGITS[s[3 * g + 1]];
        const unsigned c = DIGITS[s[3 * g + 2]];
        const unsigned v = a + 45 * b + 2025 * c;
        if (a > 44 || b > 44 || c > 44 || v > 0xFFFF) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        o[2 * g] = (unsigned char)(v >> 8);
        o[2 * g + 1] = (unsigned char)(v & 0xFF);
    }
    if (rest == 2) {
        const unsigned a = DIGITS[s[3 * groups]];
        const unsigned b = DIGITS[s[3 * groups + 1]];
        const unsigned v = a + 45 * b;
        if (a > 44 || b > 44 || v > 0xFF) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        o[2 * groups] = (unsigned char)v;
    }
    return out;
}

static PyObject *
b45_encode(PyObject *module, PyObject *data)
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

static PyMethodDef methods[] = {
    {"decode", b45_decode, METH_O,
     "Base45 text -> bytes, or None if the text is not valid Base45."},
    {"encode", b45_encode, METH_O, "bytes -> Base45 text, or None if not given bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ecert_token.codec._base45",
    "Optional compiled Base45 (see ecert_token.codec.base45).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__base45(void)
{
    memset(DIGITS, 0xFF, sizeof DIGITS);
    for (int i = 0; i < 45; i++) {
        DIGITS[(unsigned char)ALPHABET[i]] = (unsigned char)i;
    }
    return PyModule_Create(&module_def);
}
