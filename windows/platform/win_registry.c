/* Registry values for the shells (boot options, service start types,
 * disk branding).  PASSIVE_LEVEL. */
#include "win_platform.h"

#include <string.h>

BOOLEAN win_registry_read(PCWSTR key, PCWSTR value, char *str, size_t str_len, ULONG *dword)
{
    UNICODE_STRING ukey, uval;
    OBJECT_ATTRIBUTES oa;
    HANDLE h;
    RtlInitUnicodeString(&ukey, key);
    RtlInitUnicodeString(&uval, value);
    InitializeObjectAttributes(&oa, &ukey, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    if (!NT_SUCCESS(ZwOpenKey(&h, KEY_READ, &oa)))
        return FALSE;
    UCHAR buf[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 512];
    PKEY_VALUE_PARTIAL_INFORMATION info = (PKEY_VALUE_PARTIAL_INFORMATION)buf;
    ULONG got = 0;
    NTSTATUS st = ZwQueryValueKey(h, &uval, KeyValuePartialInformation, info, sizeof(buf), &got);
    ZwClose(h);
    if (!NT_SUCCESS(st))
        return FALSE;
    if (info->Type == REG_DWORD && dword && info->DataLength >= sizeof(ULONG)) {
        memcpy(dword, info->Data, sizeof(ULONG));
        return TRUE;
    }
    if (info->Type == REG_SZ && str && str_len) {
        const WCHAR *w = (const WCHAR *)info->Data;
        size_t n = info->DataLength / sizeof(WCHAR), i;
        for (i = 0; i < n && i + 1 < str_len && w[i]; i++)
            str[i] = w[i] < 0x80 ? (char)w[i] : '?';
        str[i] = 0;
        return TRUE;
    }
    return FALSE;
}

