#!/usr/bin/env node
// Writes the drug ValueSets (catalog/valuesets/drug-*.json) from the verified code tables in
// drugs-rxnorm.mjs plus the few NDC/HCPCS codes below. Each ValueSet carries a compose and an
// expansion with exactly the same codes, so the server needs no terminology service at run time.
// Usage: node scripts/valuesets/drugs.mjs [--check]   (--check: fail if a committed file differs)
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RXNORM_BY_INGREDIENT } from './drugs-rxnorm.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = join(ROOT, 'catalog', 'valuesets');
const CANONICAL_BASE = 'http://pa.example.org/fhir';
const VERSION = '1.0.0';
// Fixed so that regenerating without code changes produces identical files.
const EXPANSION_TIMESTAMP = '2026-11-23T00:00:00Z';
const DATE = EXPANSION_TIMESTAMP.slice(0, 10);

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const NDC = 'http://hl7.org/fhir/sid/ndc';
const HCPCS = 'https://bluebutton.cms.gov/resources/codesystem/hcpcs';

// Where codes were checked. Keys are used per code in drugs-rxnorm.mjs.
const SOURCES = {
  pedsnet: 'PEDSnet Variable-Dictionary and PEDSnet study OMOP code sets (RxNorm vocabulary, concept_code = RXCUI)',
  'vsac-ecqm': 'CMS eCQM VSAC value sets (e.g. Immunosuppressive Drugs for Urology Care, Glucocorticoids (oral only)) as packaged by canvas-medical/canvas-plugins',
  'cibmtr-ig': 'NMDP CIBMTR reporting FHIR IG RxNorm value sets (multiple myeloma and transplant drugs)',
  'n3c-termhub': 'N3C / JHU TermHub RxNorm medication concept sets (RXCUI with TTY)',
  ohdsi: 'OHDSI PhenotypeLibrary and OHDSI/EHDEN study concept sets (RxNorm CONCEPT_CODE with CONCEPT_CLASS_ID)',
  cpic: 'CPIC drug table (RxNorm ingredient identifiers)',
  synthea: 'codes used by the Synthea records in shared/data/synthea and Synthea medication cost table',
  'nlm-techbull': 'NLM Technical Bulletin 2017 Nov-Dec (RxNorm biosimilar naming example: infliximab-abda)',
  'mrconso-fixture': 'UMLS RXNCONSO/MRCONSO excerpt in a public test fixture (RXNORM IN row)',
  'public-mappings': 'independent public RxCUI ingredient mappings (RxClass ATC extraction documentation, drug-interaction tables)',
  openfda: 'openFDA NDC directory record for Kineret (product 66658-234, packages 66658-234-07 and 66658-234-28)',
  'seed-policy': 'the payer policy text itself (Coding Implications)',
};

const ndcKineret = [
  // openFDA: 7 syringes in 1 carton; 4 cartons in 1 case. HL7 THO: NDC code is the 10-digit form with hyphens.
  ['66658-234-07', 'Kineret (anakinra) 100 mg/0.67 mL prefilled glass syringe, carton of 7 (NDC10)'],
  ['66658-234-28', 'Kineret (anakinra) 100 mg/0.67 mL prefilled glass syringe, case of 4 cartons of 7 (NDC10)'],
  // The same packages in the 11-digit 5-4-2 form that X12 claims carry (with and without hyphens).
  ['66658-0234-07', 'Kineret (anakinra) 100 mg/0.67 mL prefilled glass syringe, carton of 7 (NDC11 5-4-2)'],
  ['66658-0234-28', 'Kineret (anakinra) 100 mg/0.67 mL prefilled glass syringe, case of 4 cartons of 7 (NDC11 5-4-2)'],
  ['66658023407', 'Kineret (anakinra) 100 mg/0.67 mL prefilled glass syringe, carton of 7 (NDC11, no hyphens)'],
  ['66658023428', 'Kineret (anakinra) 100 mg/0.67 mL prefilled glass syringe, case of 4 cartons of 7 (NDC11, no hyphens)'],
];

/**
 * One entry per ValueSet. `ingredients` are keys of RXNORM_BY_INGREDIENT; all RxNorm concepts
 * (IN, PIN, MIN, BN, SCDC, SBDC, SCD, SBD, GPCK, BPCK) found for each ingredient are included.
 */
const VALUE_SETS = [
  {
    id: 'drug-kineret', title: 'Kineret (anakinra)',
    purpose: 'The requested drug of the Kineret policies: identifies a request or a medication record as anakinra.',
    encodes: 'CP.PHAR.244, NH.PHAR.244, Molina Kineret guideline and Medical Mutual 201603 (drug identity; VI Product Availability: 100 mg/0.67 mL prefilled syringe)',
    ingredients: ['anakinra'],
    extra: [{ system: NDC, concepts: ndcKineret, source: 'openfda' }],
    note: 'Unclassified HCPCS J3590/J3490 are deliberately not included: they do not identify anakinra (the policy catalog lists them separately).',
  },
  {
    id: 'drug-carvykti', title: 'Carvykti (ciltacabtagene autoleucel)',
    purpose: 'The requested drug of CP.PHAR.533.',
    encodes: 'CP.PHAR.533 (drug identity; Coding Implications HCPCS Q2056)',
    ingredients: ['ciltacabtagene autoleucel'],
    extra: [{ system: HCPCS, concepts: [['Q2056', 'Ciltacabtagene autoleucel, up to 100 million CAR-positive T cells, per therapeutic dose']], source: 'seed-policy' }],
    note: 'Only the RxNorm ingredient could be verified; product-level (SCD/SBD) RXCUIs for Carvykti were not found in any stored source and are omitted.',
  },
  {
    id: 'drug-methotrexate', title: 'Methotrexate (all forms)',
    purpose: 'Methotrexate trials (RA step therapy, PJIA, Still disease).',
    encodes: 'CP.PHAR.244 and NH.PHAR.244 I.A.4.a and Appendix B (Trexall, Otrexup, Rasuvo, RediTrex, Xatmep, Rheumatrex); Molina RA A.3 and PJIA C.3.b; 201603 Still disease 5.A.i.1.b',
    ingredients: ['methotrexate'],
  },
  {
    id: 'drug-conventional-dmards', title: 'Conventional synthetic DMARDs other than methotrexate',
    purpose: 'Conventional DMARD trials when methotrexate is not tolerated or contraindicated.',
    encodes: 'CP.PHAR.244 and NH.PHAR.244 I.A.4.b and Appendix B (azathioprine, d-penicillamine, cyclosporine, hydroxychloroquine, leflunomide, auranofin, sulfasalazine); Molina RA A.3.b ("one additional DMARD")',
    ingredients: ['sulfasalazine', 'leflunomide', 'hydroxychloroquine', 'azathioprine', 'penicillamine', 'cyclosporine', 'auranofin'],
    note: 'Cyclosporine is limited to systemic (oral/injectable) products. Sulfasalazine, penicillamine and auranofin carry only their ingredient code: no product-level codes were found in a stored source.',
  },
  {
    id: 'drug-csdmards', title: 'Conventional synthetic DMARDs including methotrexate',
    purpose: 'Any conventional synthetic DMARD (methotrexate or another csDMARD).',
    encodes: 'Medical Mutual 201603 SJIA 4.A.i.1 and Still disease 5.A.i.1.b (csDMARD e.g. methotrexate, leflunomide, sulfasalazine); 201603 RA 1.A.i NOTE (csDMARDs do not count)',
    ingredients: ['methotrexate', 'sulfasalazine', 'leflunomide', 'hydroxychloroquine', 'azathioprine', 'penicillamine', 'cyclosporine', 'auranofin'],
  },
  {
    id: 'drug-molina-pjia-dmards', title: 'Molina PJIA prerequisite DMARDs',
    purpose: 'The four agents named for the polyarticular JIA trial.',
    encodes: 'Molina Kineret guideline C.3.b (methotrexate, hydroxychloroquine, sulfasalazine, leflunomide)',
    ingredients: ['methotrexate', 'hydroxychloroquine', 'sulfasalazine', 'leflunomide'],
  },
  {
    id: 'drug-adalimumab', title: 'Adalimumab products (Humira and biosimilars)',
    purpose: 'Adalimumab trial (one adalimumab product, preferred biosimilars named in the policy).',
    encodes: 'CP.PHAR.244 I.A.5.a and Appendix B (Hadlima, Yusimry, adalimumab-adaz/Hyrimoz, adalimumab-fkjp/Hulio, adalimumab-adbm/Cyltezo); NH.PHAR.244 Appendix B; Appendix D TNF blockers',
    ingredients: ['adalimumab'],
    note: 'RxNorm models every adalimumab biosimilar with ingredient adalimumab (IN 327361), so the IN code covers all of them; biosimilar-specific SCD/SBD codes (adalimumab-adaz, -bwwd, -aqvh, -fkjp, -aaty, -aacf, -ryvk) were not found in a stored source and are not listed. Consumers should also match MedicationRequests whose medication resolves to ingredient 327361.',
  },
  {
    id: 'drug-tocilizumab', title: 'Tocilizumab (Actemra and biosimilars)',
    purpose: 'Actemra trial (Kineret RA) and tocilizumab doses allowed with Carvykti for CRS.',
    encodes: 'CP.PHAR.244 I.A.5.b and Appendix B; NH.PHAR.244 Appendix B; CP.PHAR.533 approval duration (up to 4 tocilizumab doses of 800 mg)',
    ingredients: ['tocilizumab'],
    note: 'Biosimilars (tocilizumab-bavi Tofidence, tocilizumab-aazg Tyenne) share IN 612865; their product codes were not found in a stored source.',
  },
  {
    id: 'drug-tofacitinib', title: 'Tofacitinib (Xeljanz, Xeljanz XR, oral solution)',
    purpose: 'Xeljanz/Xeljanz XR trial.',
    encodes: 'CP.PHAR.244 I.A.5.c and Appendix B; NH.PHAR.244 Appendix B',
    ingredients: ['tofacitinib'],
  },
  {
    id: 'drug-tnf-blockers', title: 'TNF blockers',
    purpose: 'TNF blocker history (two failed TNF blockers; non-response to a TNF blocker) and concurrent use.',
    encodes: 'CP.PHAR.244 and NH.PHAR.244 Appendix D (etanercept, adalimumab and biosimilars, infliximab and biosimilars Avsola/Renflexis/Inflectra, certolizumab pegol, golimumab/Simponi Aria) and III.B; 201603 Appendix A',
    ingredients: ['etanercept', 'adalimumab', 'infliximab', 'certolizumab pegol', 'golimumab'],
  },
  {
    id: 'drug-il1-agents', title: 'Interleukin-1 blocking agents',
    purpose: 'IL-1 blockers (concurrent-use checks and SJIA history).',
    encodes: 'CP.PHAR.244 and NH.PHAR.244 III.B (Arcalyst, Ilaris, Kineret); 201603 SJIA 4.A.i.2 (Ilaris)',
    ingredients: ['anakinra', 'rilonacept', 'canakinumab'],
  },
  {
    id: 'drug-jak-inhibitors', title: 'Janus kinase inhibitors',
    purpose: 'JAK inhibitors (concurrent-use checks).',
    encodes: 'CP.PHAR.244 and NH.PHAR.244 III.B (Xeljanz/Xeljanz XR, Olumiant, Rinvoq; Cibinqo not verified); Molina "for all indications" 2',
    ingredients: ['tofacitinib', 'baricitinib', 'upadacitinib'],
    note: 'Abrocitinib (Cibinqo) is listed by the policy but its RXCUI could not be verified in any stored source, so it is omitted.',
  },
  {
    id: 'drug-biologic-dmards-and-jak', title: 'Biologic DMARDs and JAK inhibitors not to be combined with Kineret',
    purpose: 'Every agent of the combination-use exclusion. When checking concurrent use for a Kineret request, exclude the requested drug itself (anakinra is a member).',
    encodes: 'CP.PHAR.244 and NH.PHAR.244 III.B (TNF antagonists, IL agents, JAK inhibitors, anti-CD20, Orencia, Entyvio), I.A.7, I.B.3, I.C.3, II.A.3',
    ingredients: ['etanercept', 'adalimumab', 'infliximab', 'certolizumab pegol', 'golimumab',
      'rilonacept', 'canakinumab', 'anakinra', 'tocilizumab', 'sarilumab', 'ustekinumab', 'secukinumab', 'ixekizumab',
      'brodalumab', 'tildrakizumab', 'risankizumab', 'guselkumab',
      'tofacitinib', 'baricitinib', 'upadacitinib', 'rituximab', 'abatacept', 'vedolizumab'],
    note: 'Abrocitinib (Cibinqo) could not be verified and is omitted. Rituximab includes biosimilars (Riabni, Ruxience, Truxima) and rituximab/hyaluronidase (Rituxan Hycela).',
  },
  {
    id: 'drug-pde4-inhibitors', title: 'Phosphodiesterase 4 inhibitors',
    purpose: 'PDE4 inhibitor (apremilast) concurrent-use check.',
    encodes: 'Molina Kineret guideline "for all indications" 2 (apremilast); 201603 Appendix A (Otezla)',
    ingredients: ['apremilast'],
    note: 'Only the apremilast ingredient code could be verified; Otezla product codes are omitted.',
  },
  {
    id: 'drug-molina-concurrent-exclusions', title: 'Molina: agents Kineret must not be combined with',
    purpose: 'Union of TNF inhibitors, other biologic DMARDs, JAK inhibitors and PDE4 inhibitors. Exclude the requested drug (anakinra) when checking concurrent use.',
    encodes: 'Molina Kineret guideline "for all indications" 2 (TNF inhibitor, biologic response modifier or other biologic DMARD, JAK inhibitor, PDE4 inhibitor: apremilast, tofacitinib, baricitinib); Contraindications ("not to be used in combination with other biologic therapies")',
    ingredients: ['etanercept', 'adalimumab', 'infliximab', 'certolizumab pegol', 'golimumab',
      'rilonacept', 'canakinumab', 'anakinra', 'tocilizumab', 'sarilumab', 'ustekinumab', 'secukinumab', 'ixekizumab',
      'brodalumab', 'tildrakizumab', 'risankizumab', 'guselkumab',
      'tofacitinib', 'baricitinib', 'upadacitinib', 'rituximab', 'abatacept', 'vedolizumab', 'apremilast'],
  },
  {
    id: 'drug-biologic-or-targeted-synthetic-dmards', title: 'Biologic or targeted synthetic DMARDs (201603 Appendix A)',
    purpose: 'RA prerequisite trial of a bDMARD or tsDMARD (csDMARDs do not count); SJIA history of a biologic; concurrent-use reason.',
    encodes: 'Medical Mutual 201603 1.A.i, 4.A.i.2, Conditions Not Recommended 2 and Appendix A (Cimzia, Enbrel, Erelzi, Humira, Amjevita, Cyltezo, Simponi/Simponi Aria, Remicade, Inflectra, Renflexis, Actemra, Kevzara, Orencia, Rituxan, Kineret, Stelara, Siliq, Cosentyx, Taltz, Ilumya, Tremfya, Otezla, Olumiant, Xeljanz/XR)',
    ingredients: ['certolizumab pegol', 'etanercept', 'adalimumab', 'golimumab', 'infliximab', 'tocilizumab', 'sarilumab',
      'abatacept', 'rituximab', 'anakinra', 'ustekinumab', 'brodalumab', 'secukinumab', 'ixekizumab', 'tildrakizumab',
      'guselkumab', 'risankizumab', 'canakinumab', 'rilonacept', 'vedolizumab', 'apremilast', 'baricitinib', 'tofacitinib', 'upadacitinib'],
    note: 'Appendix A lists examples; risankizumab, canakinumab, rilonacept, vedolizumab and upadacitinib are added as members of the same classes.',
  },
  {
    id: 'drug-nh-preferred-ra', title: 'NH Healthy Families preferred products for RA (NH.PHAR.244 Appendix B)',
    purpose: 'RA step 5: trial and failure of one or more preferred products.',
    encodes: 'NH.PHAR.244 I.A.5 and Appendix B targeted agents: Actemra (tocilizumab); Hadlima, Yusimry, adalimumab-adaz (Hyrimoz), adalimumab-fkjp (Hulio), adalimumab-adbm (Cyltezo); Xeljanz/Xeljanz XR (tofacitinib)',
    ingredients: ['tocilizumab', 'adalimumab', 'tofacitinib'],
    note: 'The conventional agents of Appendix B (azathioprine, penicillamine, cyclosporine, hydroxychloroquine, leflunomide, methotrexate, auranofin, sulfasalazine) belong to step 4 and are in drug-methotrexate / drug-conventional-dmards. Adalimumab cannot be narrowed to the preferred biosimilars with verified codes, so all adalimumab codes are members (the IN code covers every biosimilar).',
  },
  {
    id: 'drug-nsaids', title: 'Oral NSAIDs',
    purpose: 'NSAID trials for systemic JIA.',
    encodes: 'Molina Kineret guideline C.3.a (12-week NSAID trial for SJIA); Medical Mutual 201603 4.A.i.3 (1-month NSAID trial)',
    ingredients: ['naproxen', 'ibuprofen', 'celecoxib', 'diclofenac', 'flurbiprofen', 'indomethacin'],
    note: 'Oral products only. Ingredient codes verified for naproxen, ibuprofen, celecoxib, diclofenac and flurbiprofen; indomethacin is represented by its oral SCDs only. Meloxicam and other NSAIDs could not be verified and are omitted.',
  },
  {
    id: 'drug-systemic-glucocorticoids', title: 'Systemic glucocorticoids',
    purpose: 'Glucocorticoid / corticosteroid trials for systemic JIA and Still disease.',
    encodes: 'Molina Kineret guideline C.3.a (glucocorticoid trial for SJIA); Medical Mutual 201603 4.A.i.1 and 5.A.i.1.a (corticosteroid)',
    ingredients: ['prednisone', 'prednisolone', 'methylprednisolone', 'dexamethasone', 'hydrocortisone'],
    note: 'Oral and injectable single-ingredient products only (topical, ophthalmic, otic, nasal, inhaled and rectal forms excluded).',
  },
  {
    id: 'drug-proteasome-inhibitors', title: 'Proteasome inhibitors',
    purpose: 'Prior line with a proteasome inhibitor.',
    encodes: 'CP.PHAR.533 I.A.5.a.ii.1 and I.A.5.b.ii (bortezomib, Kyprolis, Ninlaro) and Appendix B',
    ingredients: ['bortezomib', 'carfilzomib', 'ixazomib'],
  },
  {
    id: 'drug-immunomodulatory-agents', title: 'Immunomodulatory agents (IMiDs)',
    purpose: 'Prior line with an IMiD.',
    encodes: 'CP.PHAR.533 I.A.5.a.ii.2 and I.A.5.b.i (Revlimid, Pomalyst, Thalomid) and Appendix B',
    ingredients: ['lenalidomide', 'pomalidomide', 'thalidomide'],
    note: 'Pomalidomide carries only its ingredient code (no product codes found in a stored source).',
  },
  {
    id: 'drug-lenalidomide', title: 'Lenalidomide (Revlimid)',
    purpose: 'Lenalidomide exposure for lenalidomide-refractory disease.',
    encodes: 'CP.PHAR.533 I.A.5.a.i and Appendix D (lenalidomide-refractory)',
    ingredients: ['lenalidomide'],
  },
  {
    id: 'drug-anti-cd38', title: 'Anti-CD38 monoclonal antibodies',
    purpose: 'Prior line with an anti-CD38 antibody.',
    encodes: 'CP.PHAR.533 I.A.5.b.iii (Darzalex / Darzalex Faspro, Sarclisa) and Appendix B',
    ingredients: ['daratumumab', 'isatuximab'],
  },
  {
    id: 'drug-anti-bcma', title: 'Anti-BCMA targeted therapies',
    purpose: 'Prior anti-BCMA therapy (not authorized).',
    encodes: 'CP.PHAR.533 I.A.7 (e.g. Blenrep, Tecvayli); BCMA-directed CAR-T (Abecma, Carvykti)',
    ingredients: ['belantamab mafodotin', 'idecabtagene vicleucel', 'ciltacabtagene autoleucel'],
    note: 'Teclistamab (Tecvayli), elranatamab (Elrexfio) and linvoseltamab (Lynozyfic) could not be verified in a stored source and are omitted; the questionnaire must cover them.',
  },
  {
    id: 'drug-car-t', title: 'CAR T-cell immunotherapies',
    purpose: 'Prior or concurrent CAR-T therapy (not authorized).',
    encodes: 'CP.PHAR.533 I.A.8 and I.A.9 (Abecma, Breyanzi, Kymriah, Tecartus, Yescarta; also Carvykti)',
    ingredients: ['idecabtagene vicleucel', 'ciltacabtagene autoleucel', 'tisagenlecleucel', 'axicabtagene ciloleucel',
      'lisocabtagene maraleucel', 'brexucabtagene autoleucel'],
    note: 'Obecabtagene autoleucel (Aucatzyl) could not be verified and is omitted. When checking prior CAR-T for a Carvykti request, the requested order itself must not count.',
  },
];

// Name-based (v5-style) UUID from the value set id, version and members: stable while the content is.
function expansionUuid(id, contains) {
  const h = createHash('sha1').update(`${id}|${VERSION}|${JSON.stringify(contains)}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function pascal(id) {
  return id.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}

function buildValueSet(def) {
  const rx = new Map();
  const sourceKeys = new Set();
  const perIngredient = [];
  for (const ing of def.ingredients) {
    const rows = RXNORM_BY_INGREDIENT[ing];
    if (!rows || rows.length === 0) throw new Error(`${def.id}: no verified codes for ingredient "${ing}"`);
    const inRow = rows.find((r) => r[1] === 'IN');
    const ttys = new Set();
    const srcs = new Set();
    for (const [code, tty, display, srcList] of rows) {
      if (!srcList.length) throw new Error(`${def.id}: ${code} has no source`);
      if (!rx.has(code)) rx.set(code, display);
      ttys.add(tty);
      for (const s of srcList) { srcs.add(s); sourceKeys.add(s); }
    }
    perIngredient.push(`${ing} (${inRow ? `IN ${inRow[0]}` : 'no IN verified'}; ${rows.length} codes: ${[...ttys].join('/')}; verified in ${[...srcs].join(', ')})`);
  }
  const includes = [{ system: RXNORM, concept: [...rx].map(([code, display]) => ({ code, display })) }];
  for (const extra of def.extra ?? []) {
    includes.push({ system: extra.system, concept: extra.concepts.map(([code, display]) => ({ code, display })) });
    sourceKeys.add(extra.source);
  }
  const contains = includes.flatMap((inc) => inc.concept.map((c) => ({ system: inc.system, code: c.code, display: c.display })));
  const description = [
    `${def.purpose}`,
    `Encodes: ${def.encodes}.`,
    `Members: ${perIngredient.join('; ')}.`,
    def.note ? `Note: ${def.note}` : null,
    `Sources: ${[...sourceKeys].sort().map((k) => `${k} = ${SOURCES[k]}`).join('; ')}.`,
    'Codes that could not be verified in at least one of these sources were left out.',
  ].filter(Boolean).join('\n\n');
  return {
    resourceType: 'ValueSet',
    id: def.id,
    url: `${CANONICAL_BASE}/ValueSet/${def.id}`,
    version: VERSION,
    name: pascal(def.id),
    title: def.title,
    status: 'active',
    experimental: false,
    date: DATE,
    publisher: 'pa-server policy catalog',
    description,
    compose: { include: includes },
    expansion: {
      identifier: expansionUuid(def.id, contains),
      timestamp: EXPANSION_TIMESTAMP,
      total: contains.length,
      contains,
    },
  };
}

const check = process.argv.includes('--check');
let stale = 0;
for (const def of VALUE_SETS) {
  const file = join(OUT_DIR, `${def.id}.json`);
  const text = `${JSON.stringify(buildValueSet(def), null, 2)}\n`;
  if (check) {
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) { console.error(`stale: ${file}`); stale += 1; }
  } else {
    writeFileSync(file, text);
  }
}
if (check && stale) process.exit(1);
console.log(`${check ? 'checked' : 'wrote'} ${VALUE_SETS.length} drug value sets`);
