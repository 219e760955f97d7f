/* empty.c - keeps a library buildable while its folder has no sources yet. */
typedef int vf_empty_translation_unit;
