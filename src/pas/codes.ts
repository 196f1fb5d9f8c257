/**
 * Every PAS 2.2.1 URL and code this server reads or writes, in one place. Each value was taken
 * from the IG package (hl7.fhir.us.davinci-pas 2.2.1): the StructureDefinition that defines it,
 * the ValueSet that binds it, or the IG's own examples. X12 code meanings that the package does not
 * carry (X12 licenses them) are noted with their source.
 */
import { CANONICAL_BASE } from '../config';

const PAS_SD = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition';

export const PAS_PROFILE = {
  requestBundle: `${PAS_SD}/profile-pas-request-bundle`,
  responseBundle: `${PAS_SD}/profile-pas-response-bundle`,
  claim: `${PAS_SD}/profile-claim`,
  claimResponse: `${PAS_SD}/profile-claimresponse`,
  communicationRequest: `${PAS_SD}/profile-communicationrequest`,
} as const;

export const PAS_EXT = {
  /** Claim.item (and Claim, in a claim update): X12 UM02 certification type, system X12 1322. */
  certificationType: `${PAS_SD}/extension-certificationType`,
  /** Claim.item: the order (MedicationRequest, ServiceRequest, DeviceRequest, NutritionOrder) behind the line. */
  requestedService: `${PAS_SD}/extension-requestedService`,
  /** Claim.item: X12 UM01 request category, system X12 1525. */
  serviceItemRequestType: `${PAS_SD}/extension-serviceItemRequestType`,
  /** Claim.item / ClaimResponse.item: the line's trace number, echoed back in the response. */
  itemTraceNumber: `${PAS_SD}/extension-itemTraceNumber`,
  /** ClaimResponse.item.adjudication: complex; sub-extensions below. */
  reviewAction: `${PAS_SD}/extension-reviewAction`,
  /** Sub-extension `code` of reviewAction (full URL as its slice name), X12 HCR01, system X12 306. */
  reviewActionCode: `${PAS_SD}/extension-reviewActionCode`,
  /** ClaimResponse.item: Period the line is authorized for. */
  itemPreAuthPeriod: `${PAS_SD}/extension-itemPreAuthPeriod`,
  /** ClaimResponse.item: date the authorization was issued. */
  itemPreAuthIssueDate: `${PAS_SD}/extension-itemPreAuthIssueDate`,
  /** Claim.item (update): `modifierextension-infoCancelled` true = the provider cancels the line. */
  infoCancelled: `${PAS_SD}/modifierextension-infoCancelled`,
  /** Claim.item (update): `changed` | `added` (PASInformationChangeMode). */
  infoChanged: `${PAS_SD}/extension-infoChanged`,
  /** Claim: X12 UM06 level of service (X12 1338; `U` urgent, `03` emergency make it expedited). */
  levelOfServiceCode: `${PAS_SD}/extension-levelOfServiceCode`,
  /** CommunicationRequest: the Claim item the request is about. */
  serviceLineNumber: `${PAS_SD}/extension-serviceLineNumber`,
  /** ClaimResponse: a person reviewed the request (wasHumanReviewedFlag, reviewerNPI, reviewerSpecialty). */
  claimResponseReviewer: `${PAS_SD}/extension-claimResponseReviewer`,
  /** CommunicationRequest.payload and ClaimResponse.item: diagnosis (ICD-10-CM) the item is about. */
  communicatedDiagnosis: `${PAS_SD}/extension-communicatedDiagnosis`,
  /** ClaimResponse.item: the UMO's reference for a pended or not-certified item. */
  administrationReferenceNumber: `${PAS_SD}/extension-administrationReferenceNumber`,
  /** ClaimResponse.item: the date or period the submitter asked for (Claim.item.serviced[x]). */
  itemRequestedServiceDate: `${PAS_SD}/extension-itemRequestedServiceDate`,
  /** ClaimResponse.item: what was authorized (product, quantity...), complex. */
  itemAuthorizedDetail: `${PAS_SD}/extension-itemAuthorizedDetail`,
  /** ClaimResponse.error: the X12 loop/segment/element the error is about (sub-extension `error`). */
  errorElement: `${PAS_SD}/extension-errorElement`,
  /** ClaimResponse.error: FHIRPath from the request Bundle to the element in error. */
  errorPath: `${PAS_SD}/extension-errorPath`,
  /** ClaimResponse.error: what the submitter must do (X12 889). */
  errorFollowupAction: `${PAS_SD}/extension-errorFollowupAction`,
} as const;

/** Relative URLs of reviewAction's own sub-extensions (fixedUri in extension-reviewAction). */
export const REVIEW_ACTION_SUB = { number: 'number', reasonCode: 'reasonCode' } as const;

export const SYSTEM = {
  /** X12 306 Action Code (HCR01), bound by extension-reviewActionCode. */
  x12ActionCode: 'https://codesystem.x12.org/005010/306',
  /** X12 901 Reject Reason Code (AAA03), bound (required) to ClaimResponse.error.code via ValueSet X12278RejectReasonCodes. */
  x12RejectReason: 'https://codesystem.x12.org/005010/901',
  /** X12 889 Follow-up Action Code (AAA04), extension-errorFollowupAction (ValueSet X12278FollowUpActionCodes). */
  x12FollowUpAction: 'https://codesystem.x12.org/005010/889',
  /** X12 external code source 886 (HCR03 decision reason), ValueSet X12278ReviewDecisionReasonCode. */
  x12DecisionReason: 'https://codesystem.x12.org/external/886',
  /** X12 1322 Certification Type Code (UM02), bound by extension-certificationType. */
  x12CertificationType: 'https://codesystem.x12.org/005010/1322',
  /** X12 755 Report Type Code (PWK01), CommunicationRequest.category. */
  x12ReportType: 'https://codesystem.x12.org/005010/755',
  /** X12 756 Report Transmission Code (PWK02), CommunicationRequest.medium. */
  x12TransmissionCode: 'https://codesystem.x12.org/005010/756',
  /** Pattern of ClaimResponse.item.adjudication.category in profile-claimresponse-base. */
  adjudication: 'http://terminology.hl7.org/CodeSystem/adjudication',
  /** Place of service, as in the PAS ValueSet X12278LocationType. */
  placeOfService: 'https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set',
  /** HCPCS, as in the PAS ValueSet X12278RequestedServiceType. */
  hcpcs: 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets',
  ndc: 'http://hl7.org/fhir/sid/ndc',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  npi: 'http://hl7.org/fhir/sid/us-npi',
  loinc: 'http://loinc.org',
  coverageClass: 'http://terminology.hl7.org/CodeSystem/coverage-class',
} as const;

/** HCPCS arrives under several system URLs; one list, shared with the catalog. */
export { HCPCS_SYSTEMS } from '../catalog/catalog';

/** X12 306 codes with the displays the PAS examples use. */
export const ACTION = {
  certified: { code: 'A1', display: 'Certified in total' },
  notCertified: { code: 'A3', display: 'Not Certified' },
  /** Certified for less than was asked (a policy quantity limit); the authorized line is in addItem. */
  modified: { code: 'A6', display: 'Modified' },
  pended: { code: 'A4', display: 'Pending' },
  /** The provider cancelled the request (item or whole Claim). */
  cancelled: { code: 'C', display: 'Cancelled' },
} as const;

/**
 * X12 886 decision reason codes (HCR03). The package binds the whole external code list without
 * listing it; code meanings are from the X12 278 HCR03 code list as published by WPC.
 */
export const DECISION_REASON = {
  nonCovered: { code: '0M', display: 'Non-covered Service' },
  additionalInformation: { code: '0U', display: 'Additional Patient Information required' },
  medicalReview: { code: '0V', display: 'Requires Medical Review' },
} as const;

/** X12 1322 (UM02) codes, as listed in the X12 278 TR3; `I` and `3` also appear in the PAS examples. */
export const CERTIFICATION_TYPE = {
  /** X12 1322 `3`: the request (or the item) is cancelled. */
  cancel: ['3'],
  initial: ['I'],
  continuation: ['R', '4'], // Renewal, Extension
} as const;

/** What the CommunicationRequest asks for: medical records (X12 755 M1), sent electronically (756 EL). */
export const DOCUMENTATION_REQUEST = {
  category: { system: SYSTEM.x12ReportType, code: 'M1', display: 'Medical Record Attachment' },
  medium: { system: SYSTEM.x12TransmissionCode, code: 'EL', display: 'Electronically Only' },
  /** LOINC document type carried in payload.contentString (PAS ValueSet pas-loinc-attachment-codes). */
  loincDocument: { code: '11506-3', display: 'Progress note' },
} as const;

/** Identifier systems for what this server mints. */
export const OUR_IDENTIFIER = {
  responseBundle: `${CANONICAL_BASE}/identifier/pas-response-bundle`,
  claimResponse: `${CANONICAL_BASE}/identifier/claim-response`,
  communicationRequest: `${CANONICAL_BASE}/identifier/communication-request`,
} as const;

/** Our identifier systems under the server's public FHIR base (PUBLIC_BASE_URL + `/fhir`). */
export function ourIdentifiers(base: string): Record<keyof typeof OUR_IDENTIFIER, string> {
  const root = base.replace(/\/$/, '');
  return {
    responseBundle: `${root}/identifier/pas-response-bundle`,
    claimResponse: `${root}/identifier/claim-response`,
    communicationRequest: `${root}/identifier/communication-request`,
  };
}
