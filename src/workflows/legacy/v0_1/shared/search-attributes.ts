import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The custom key store a decommission targets (Keyword). Set at start, so `list` can find runs per store. */
export const CustomKeyStoreIdAttribute = defineSearchAttributeKey('KmsCustomKeyStoreId', SearchAttributeType.KEYWORD);

/** The current {@link Phase} of a decommission (Keyword), kept current by the workflow. */
export const DecommissionPhaseAttribute = defineSearchAttributeKey('DecommissionPhase', SearchAttributeType.KEYWORD);

/**
 * Every search attribute the project uses, with the type name the Temporal CLI expects
 * (`temporal operator search-attribute create --name N --type T`). Dev-server scripts, the
 * docker-compose admin job and the README all read this one table.
 */
export const SEARCH_ATTRIBUTE_TYPES: Readonly<Record<string, string>> = {
  [CustomKeyStoreIdAttribute.name]: 'Keyword',
  [DecommissionPhaseAttribute.name]: 'Keyword',
};
