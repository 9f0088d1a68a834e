//! The serde form of exact decimals in stored values: (scale, mantissa), whatever the format
//! that serializes them. Used with `#[serde(with = ...)]` by the events and the state.

pub mod decimal {
    use rust_decimal::Decimal;
    use serde::Serialize;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        (d.scale() as u8, d.mantissa()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let (scale, mantissa) = <(u8, i128)>::deserialize(d)?;
        Decimal::try_from_i128_with_scale(mantissa, u32::from(scale)).map_err(serde::de::Error::custom)
    }
}

pub mod opt_decimal {
    use rust_decimal::Decimal;
    use serde::Serialize;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        d.map(|d| (d.scale() as u8, d.mantissa())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match <Option<(u8, i128)>>::deserialize(d)? {
            None => Ok(None),
            Some((scale, m)) => {
                Decimal::try_from_i128_with_scale(m, u32::from(scale)).map(Some).map_err(serde::de::Error::custom)
            }
        }
    }
}
