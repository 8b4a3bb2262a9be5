/*
 * Optional compiled helper for batch verification: many libsodium
 * crypto_sign_open calls inside ONE release of the GIL.
 *
 * Why: cffi releases and re-takes the GIL around every call, so threads that
 * verify one signature at a time hand the GIL back and forth twice per
 * token, and every hand-off that finds the GIL busy waits for the other
 * thread's wake-up.  A worker thread that checks a whole chunk of signatures
 * here holds the GIL only to read its inputs, then runs libsodium without it
 * for the whole chunk (see ecert_token/token/batch.py).
 *
 * The libsodium function is PyNaCl's own, passed in as an address taken with
 * cffi's ffi.addressof on PyNaCl's compiled module, after its C type has been
 * checked (ecert_token/crypto/ed25519.py); this module links nothing.
 *
 * open_many(address, signed, keys) -> bytes
 *   signed: list of bytes (signature || message), keys: list of 32-byte
 *   bytes, the same length; the answer has one byte per item, 1 if valid.
 *   A key that is not 32 bytes, or an item that is not exactly bytes, is 0.
 *
 * Safety: the items are held (Py_INCREF) while the GIL is released, so
 * another thread changing the lists cannot free them; every pointer and
 * length is read before the release.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef int (*sign_open_fn)(unsigned char *m, unsigned long long *mlen_p,
                            const unsigned char *sm, unsigned long long smlen,
                            const unsigned char *pk);

static PyObject *
open_many(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned long long address;
    PyObject *signed_list;
    PyObject *key_list;
    if (!PyArg_ParseTuple(args, "KO!O!", &address, &PyList_Type, &signed_list,
                          &PyList_Type, &key_list)) {
        return NULL;
    }
    if (address == 0) {
        PyErr_SetString(PyExc_ValueError, "no function address");
        return NULL;
    }
    const Py_ssize_t n = PyList_GET_SIZE(signed_list);
    if (PyList_GET_SIZE(key_list) != n) {
        PyErr_SetString(PyExc_ValueError, "signed and keys differ in length");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL) {
        return NULL;
    }
    if (n == 0) {
        return out;
    }
    PyObject **held = PyMem_Calloc((size_t)(2 * n), sizeof(PyObject *));
    if (held == NULL) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *sm = PyList_GET_ITEM(signed_list, i);
        PyObject *pk = PyList_GET_ITEM(key_list, i);
        Py_INCREF(sm);
        Py_INCREF(pk);
        held[2 * i] = sm;
        held[2 * i + 1] = pk;
        /* 1 = to be checked; 0 = refused without calling libsodium */
        o[i] = (PyBytes_CheckExact(sm) && PyBytes_CheckExact(pk)
                && PyBytes_GET_SIZE(pk) == 32) ? 1 : 0;
    }
    sign_open_fn sign_open = (sign_open_fn)(uintptr_t)address;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i]) {
            PyObject *sm = held[2 * i];
            o[i] = sign_open(NULL, NULL,
                             (const unsigned char *)PyBytes_AS_STRING(sm),
                             (unsigned long long)PyBytes_GET_SIZE(sm),
                             (const unsigned char *)PyBytes_AS_STRING(held[2 * i + 1])) == 0;
        }
    }
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        Py_DECREF(held[i]);
    }
    PyMem_Free(held);
    return out;
}

static PyMethodDef methods[] = {
    {"open_many", open_many, METH_VARARGS,
     "open_many(address, signed, keys) -> bytes: 1 per valid signature, GIL released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ecert_token.crypto._ed25519_batch",
    "Optional compiled batch signature check (see ecert_token.crypto.ed25519).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__ed25519_batch(void)
{
    return PyModule_Create(&module_def);
}
